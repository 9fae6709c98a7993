#!/bin/sh
# Records argv, cwd and the exact environment this process was started with
# (/proc/$$/environ, not `env`: the shell would add PWD and friends).
printf '%s\n' "$0" "$@" > "$OUT.argv"
pwd > "$OUT.cwd"
tr '\0' '\n' < /proc/$$/environ > "$OUT"
