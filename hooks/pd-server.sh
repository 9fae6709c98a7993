#!/bin/sh
# pd-server hook: keep the return route of a delegated prefix in step with
# its lease, with iproute2. Called as `pd-server.sh add|update|delete|expire`
# with the environment documented in hooks/README.md.
#
# pd-server installs these routes itself when `[routes] install = true`;
# use this script instead when you set `install = false` (or adapt it to
# push the route into a routing daemon).
set -u
action="${1:-}"
prefix="${PD_PREFIX:-}"
via="${PD_NEXTHOP:-}"
dev="${PD_IFACE:-}"
metric="${PD_HOOK_METRIC:-1024}"

if [ -z "$prefix" ] || [ -z "$via" ] || [ -z "$dev" ]; then
    echo "pd-server.sh: PD_PREFIX, PD_NEXTHOP and PD_IFACE must be set" >&2
    exit 2
fi

case "$action" in
    add|update)
        # replace: idempotent, and follows a client that moved.
        exec ip -6 route replace "$prefix" via "$via" dev "$dev" metric "$metric"
        ;;
    delete|expire)
        # A route that is already gone is fine.
        ip -6 route del "$prefix" via "$via" dev "$dev" metric "$metric" 2>/dev/null
        exit 0
        ;;
    *)
        echo "pd-server.sh: unknown action '$action'" >&2
        exit 2
        ;;
esac
