#!/usr/bin/env bash
# Build the Debian and RPM packages of pd into target/packages/.
#
#   scripts/build-packages.sh              # pd-server and pd-client
#   PD_PACKAGES=pd-server scripts/build-packages.sh
#
# Installs cargo-deb and cargo-generate-rpm if missing (~3 min on 2 cores),
# builds the release binaries (own target dir, target/pkg, so it never waits
# for or disturbs the debug build), generates the shell completions from the
# binaries and the compressed man pages into $CARGO_TARGET_DIR/release/pkg-gen/
# (named target/release/pkg-gen/ in the package metadata), then runs
# cargo deb and cargo generate-rpm for each package. See packaging/README.md.
#
# Environment:
#   PD_PACKAGES        crates to package (default "pd-server pd-client")
#   CARGO_TARGET_DIR   release build directory (default target/pkg)
#   CARGO_PROFILE_RELEASE_DEBUG  default 0 here: packages ship without
#                      debug info, and the build is faster.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

packages=(${PD_PACKAGES:-pd-server pd-client})
out="$root/target/packages"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/pkg}"
gen="$CARGO_TARGET_DIR/release/pkg-gen"
export CARGO_PROFILE_RELEASE_DEBUG="${CARGO_PROFILE_RELEASE_DEBUG:-0}"

step_start=0
step() {
    step_start=$SECONDS
    echo "== $*"
}
done_step() {
    echo "   ($(( SECONDS - step_start )) s)"
}
die() {
    echo "build-packages.sh: $*" >&2
    exit 1
}

missing_tools=()
command -v cargo-deb >/dev/null 2>&1 || missing_tools+=(cargo-deb)
command -v cargo-generate-rpm >/dev/null 2>&1 || missing_tools+=(cargo-generate-rpm)
if [ ${#missing_tools[@]} -gt 0 ]; then
    step "cargo install --locked ${missing_tools[*]}"
    cargo install --locked "${missing_tools[@]}"
    done_step
fi

build_args=()
for p in "${packages[@]}"; do
    build_args+=(-p "$p")
done
step "cargo build --release ${build_args[*]} (target dir $CARGO_TARGET_DIR)"
cargo build --release --locked "${build_args[@]}"
done_step

step "completions and man pages -> $gen"
rm -rf "$gen"
mkdir -p "$gen/completions" "$gen/man"
for p in "${packages[@]}"; do
    bin="$CARGO_TARGET_DIR/release/$p"
    [ -x "$bin" ] || die "$bin was not built"
    "$bin" completions bash >"$gen/completions/$p.bash"
    "$bin" completions zsh >"$gen/completions/_$p"
    "$bin" completions fish >"$gen/completions/$p.fish"
    # A binary without a working `completions` subcommand must not slip
    # garbage into a package.
    grep -Eq "^ *complete -F _[a-z_]+ .* $p\$" "$gen/completions/$p.bash" ||
        die "$p completions bash: no 'complete -F ... $p' in the output"
    head -n1 "$gen/completions/_$p" | grep -q "^#compdef $p\$" ||
        die "$p completions zsh: no '#compdef $p' header"
    grep -q "^complete -c $p " "$gen/completions/$p.fish" ||
        die "$p completions fish: no 'complete -c $p' lines"
    [ -f "packaging/man/$p.8" ] || die "packaging/man/$p.8 is missing"
    gzip -9n <"packaging/man/$p.8" >"$gen/man/$p.8.gz"
done
done_step

mkdir -p "$out"
rm -f "$out"/*.deb "$out"/*.rpm
for p in "${packages[@]}"; do
    step "cargo deb -p $p"
    cargo deb -p "$p" --no-build --locked --output "$out/"
    done_step
    step "cargo generate-rpm -p $p"
    cargo generate-rpm -p "$p" --output "$out/"
    done_step
done

echo "== packages in $out:"
ls -l "$out"
