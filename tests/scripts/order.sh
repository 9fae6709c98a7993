#!/bin/sh
# Appends start/end lines around a nap, to show what overlaps.
echo "start $SEQ" >> "$OUT"
sleep "$NAP"
echo "end $SEQ" >> "$OUT"
