#!/usr/bin/env bash
# Build the Debian package makedumpfile-rs (/usr/bin/makedumpfile, makedumpfile(8), the
# copyright file and the changelog; it provides, conflicts with and replaces Debian's
# makedumpfile) and check it with lintian.
#
# Usage: scripts/build-deb.sh
#   Prints the path of the .deb last: $CARGO_TARGET_DIR/debian/makedumpfile-rs_VERSION_ARCH.deb
#   (CARGO_TARGET_DIR defaults to target/). Install it with
#     sudo apt install ./target/debian/makedumpfile-rs_*.deb
#
# - cargo-deb (crates.io) is installed once into $CACHE/tools (outside the checkout);
#   lintian with apt-get when missing (root needed then).
# - The man page installed is packaging/makedumpfile.8, which a unit test keeps equal to
#   what the option table renders (cli/src/man_page.rs); it is checked here once more
#   before packaging, so a stale page can never ship.
# - The binary is stripped (--strip): the release profile keeps line tables for backtraces
#   and profiling, which Debian packages move out of /usr/bin.
# - Fails on any lintian error (E: line); warnings and info are printed.
# Run time: ~1-2 min when the release build is fresh (lintian ~15 s), first time ~3 min more
# to build cargo-deb.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib.sh"
cd "$ROOT"

CARGO_DEB_VERSION=3.8.0
TOOLS=$CACHE/tools
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

need_cmd cargo "install Rust (rustup)"
need_cmd dpkg-deb "this script targets Debian/Ubuntu"
if [[ ! -x $TOOLS/bin/cargo-deb ]] || ! "$TOOLS/bin/cargo-deb" --version | grep -q " $CARGO_DEB_VERSION\$"; then
    log "cargo install cargo-deb $CARGO_DEB_VERSION into $TOOLS"
    CARGO_INSTALL_ROOT=$TOOLS CARGO_TARGET_DIR=$CACHE/build/cargo-deb \
        cargo install --locked --version "$CARGO_DEB_VERSION" cargo-deb >&2 ||
        die "cargo install cargo-deb failed"
fi
if ! command -v lintian >/dev/null 2>&1; then
    need_root
    log "apt-get install lintian"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q lintian; } >&2 ||
        die "apt-get install lintian failed"
fi
need_cmd lintian "apt-get install lintian"

log "checking packaging/makedumpfile.8 against the option table"
cargo test --release -p makedumpfile-cli --bin makedumpfile man_page >&2 ||
    die "packaging/makedumpfile.8 differs from the option table (see the test's message)"

log "cargo deb"
mkdir -p "$TARGET_DIR/debian"
"$TOOLS/bin/cargo-deb" -p makedumpfile-cli --strip --no-dbgsym -o "$TARGET_DIR/debian" >&2 ||
    die "cargo deb failed"
version=$(cargo metadata --no-deps --format-version 1 |
    python3 -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "makedumpfile-cli"))')
deb=$TARGET_DIR/debian/makedumpfile-rs_${version}-1_$(dpkg --print-architecture).deb
[[ -s $deb ]] || die "cargo deb did not write $deb"

log "lintian $(basename "$deb")"
lintian_out=$TARGET_DIR/debian/lintian.txt
# lintian exits non-zero for errors; the E: lines decide, so its status is not trusted
# alone (a crash of lintian itself prints no tag and is caught by the status).
lintian_rc=0
lintian --info --display-info "$deb" >"$lintian_out" 2>&1 || lintian_rc=$?
sed 's/^/  lintian: /' "$lintian_out" >&2
if grep -q '^E: ' "$lintian_out"; then
    die "lintian reported errors (E: lines above)"
fi
if ((lintian_rc != 0)) && ! grep -q '^[WIP]: ' "$lintian_out"; then
    die "lintian failed (exit $lintian_rc) without reporting tags"
fi
log "lintian: $(grep -c '^E: ' "$lintian_out" || true) errors, $(grep -c '^W: ' "$lintian_out" || true) warnings"
log "package: $deb ($(du -h "$deb" | cut -f1))"
echo "$deb"
