#!/bin/sh
# pd-client hook: record the current delegation where other tools can read
# it, and log the event. Called as `pd-client.sh add|update|delete|expire`
# with the environment documented in hooks/README.md.
#
#   $PD_HOOK_STATE_DIR/<upstream>.prefixes   (default /run/pd-client)
#   one line per prefix: "prefix/len preferred valid"; empty when none.
set -u
action="${1:-}"
iface="${PD_IFACE:-${IFACE:-}}"
dir="${PD_HOOK_STATE_DIR:-/run/pd-client}"

case "$action" in
    add|update|delete|expire) ;;
    *) echo "pd-client.sh: unknown action '$action'" >&2; exit 2 ;;
esac
[ -n "$iface" ] || { echo "pd-client.sh: PD_IFACE is not set" >&2; exit 2; }

mkdir -p "$dir" || exit 1
tmp="$dir/.$iface.prefixes.$$"
: > "$tmp"
if [ "$action" = add ] || [ "$action" = update ]; then
    for row in ${PREFIXES:-}; do
        # odhcp6c format: prefix/len,preferred,valid
        echo "$row" | tr ',' ' ' >> "$tmp"
    done
fi
mv -f "$tmp" "$dir/$iface.prefixes"

if command -v logger >/dev/null 2>&1; then
    logger -t pd-client-hook "$action on $iface: ${PREFIXES:-none} from ${PD_SERVER:-?}"
fi
exit 0
