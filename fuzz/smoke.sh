#!/usr/bin/env bash
# Fuzz smoke run for CI: build every cargo-fuzz target (stable toolchain, no
# sanitizer, debug assertions and overflow checks on) and run each from its
# committed seeds for a bounded number of inputs. Exits non-zero on the
# first crash, leak or timeout (libFuzzer writes the input to
# fuzz/artifacts/TARGET/); the grown corpus goes to a temporary directory,
# so the committed seeds stay as they are.
#
#   fuzz/smoke.sh                  # 20,000 inputs per target (default)
#   FUZZ_RUNS=200000 fuzz/smoke.sh # longer
#   FUZZ_TARGET_DIR=DIR fuzz/smoke.sh  # build somewhere else (default fuzz/target)
set -euo pipefail

cd "$(dirname "$0")"
runs=${FUZZ_RUNS:-20000}
target_dir=${FUZZ_TARGET_DIR:-target}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "smoke: installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

opts=(--sanitizer none --debug-assertions --target-dir "$target_dir")
cargo fuzz build "${opts[@]}"
for t in $(cargo fuzz list); do
    [ -d "corpus/$t" ] || { echo "smoke: no seeds in fuzz/corpus/$t" >&2; exit 1; }
    mkdir -p "$work/$t"
    echo "smoke: $t ($runs inputs)" >&2
    start=$(date +%s)
    # -max_total_time bounds a slow machine; -timeout flags a hung input.
    cargo fuzz run "${opts[@]}" "$t" "$work/$t" "corpus/$t" -- \
        -runs="$runs" -max_total_time=120 -timeout=10 -print_final_stats=1 \
        2>"$work/$t.log" || {
        grep -E -A4 'panicked|==[0-9]+== ERROR|^SUMMARY' "$work/$t.log" | head -n 40 >&2
        grep -E 'Test unit written|^Base64' "$work/$t.log" >&2 || true
        echo "smoke: $t FAILED (input saved under fuzz/artifacts/$t/)" >&2
        exit 1
    }
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units)' "$work/$t.log" >&2 || true
    echo "smoke: $t ok in $(($(date +%s) - start)) s" >&2
done
echo "smoke: all targets ok" >&2
