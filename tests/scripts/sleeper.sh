#!/bin/sh
# Runs far past any test timeout, through a child that holds stdout open.
sleep 100 &
echo $! > "$OUT"
wait
