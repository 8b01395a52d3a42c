#!/usr/bin/env bash
# Cross-build the `makedumpfile` binary (cli crate) for aarch64-unknown-linux-gnu on an
# x86_64 Debian host, from Debian's packages alone (no rustup download server is needed).
#
# Usage: scripts/build-aarch64.sh [--checkout DIR] [--out PATH]
#   --checkout DIR  the workspace to build (default: the checkout this script is in)
#   --out PATH      where the stripped aarch64 binary goes
#                   (default: DIR/target/aarch64/makedumpfile)
#   Prints PATH last. Needs root (debootstrap, chroot, mount namespaces).
#
# How: a Debian trixie chroot (debootstrap, minbase) holds trixie's rustc and cargo 1.85
# (the workspace's rust-version), the arm64 standard library `libstd-rust-dev:arm64`
# (Multi-Arch: same, so it installs beside the amd64 compiler) and the cross C toolchain
# `gcc-aarch64-linux-gnu` with the arm64 glibc (`libc6-dev-arm64-cross`), which also
# compiles the C of zstd-sys and libz-sys. The binary is linked statically against glibc
# (`-C target-feature=+crt-static`): nothing to copy beside it into a capture initramfs.
#
# Cache ($CACHE/aarch64-toolchain, reused by every later build):
#   trixie-root/            the chroot (built once, 1.5 GB; delete it to rebuild)
#   vendor/<lock-hash>/     the crates of the checkout's Cargo.lock, fetched on the host
#                           with `cargo vendor`; the chroot builds with --offline --locked
#   target/<checkout-hash>/ cargo's target dir, one per checkout path (cargo's freshness
#                           check compares mtimes, so two checkouts must not share one)
# The checkout is bind-mounted read-only into the chroot, in a private mount namespace
# (unshare), so no mount outlives the script, whatever way it ends. It is always /src
# there, so the binary does not depend on where the checkout is (two clones at different
# paths gave the same bytes).
# Run time (2 cores shared with other work): first run 1.5 min on a quiet machine (chroot
# 40 s, build 57 s), 9 min at load 10 (chroot 261 s, build 273 s); later runs 0.4 s when
# nothing changed, ~45 s after an engine source file changed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CHECKOUT=$(cd "$SCRIPTS_DIR/.." && pwd)
OUT=
while (($#)); do
    case $1 in
        --checkout) [[ $# -ge 2 ]] || die "--checkout needs a directory"; CHECKOUT=$2; shift 2 ;;
        --out) [[ $# -ge 2 ]] || die "--out needs a path"; OUT=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done
[[ -f $CHECKOUT/Cargo.toml && -f $CHECKOUT/Cargo.lock && -d $CHECKOUT/cli ]] ||
    die "--checkout $CHECKOUT: not a makedumpfile-rs workspace (Cargo.toml, Cargo.lock, cli/)"
CHECKOUT=$(cd "$CHECKOUT" && pwd -P)
OUT=${OUT:-$CHECKOUT/target/aarch64/makedumpfile}

MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=trixie
TRIPLE=aarch64-unknown-linux-gnu
# What the chroot must hold; changing this list rebuilds the chroot (the stamp records it).
CHROOT_PKGS=(rustc cargo libstd-rust-dev:arm64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross
             binutils-aarch64-linux-gnu)
TOOLCHAIN=$CACHE/aarch64-toolchain
ROOTFS=$TOOLCHAIN/$SUITE-root
STAMP=$ROOTFS/.makedumpfile-rs-toolchain

need_root
if ! command -v debootstrap >/dev/null 2>&1; then
    log "apt-get install debootstrap"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; } >&2 ||
        die "apt-get install debootstrap failed"
fi
for c in debootstrap unshare chroot mount flock sha256sum cargo; do
    need_cmd "$c" "apt-get install debootstrap util-linux coreutils; cargo from rustup"
done
mkdir -p "$TOOLCHAIN"
# One setup at a time: a second build waits instead of debootstrapping into the same dir.
exec 9>"$TOOLCHAIN/.lock"
flock 9

# in_chroot CMD...: run CMD in the chroot with /proc, /dev and the given binds, inside a
# private mount namespace. Binds come from the BINDS array: "HOST_DIR:CHROOT_DIR[:ro]".
BINDS=()
in_chroot() {
    # The script is expanded by the inner sh, with its own positional parameters.
    # shellcheck disable=SC2016
    local script='set -e; r=$1; shift
        mount -t proc proc "$r/proc"
        mount --rbind /dev "$r/dev"
        while [ "$1" != -- ]; do
            src=${1%%:*}; rest=${1#*:}; dst=${rest%%:*}; mode=${rest#"$dst"}
            mkdir -p "$r$dst"; mount --bind "$src" "$r$dst"
            [ "$mode" = :ro ] && mount -o remount,bind,ro "$r$dst"
            shift
        done
        shift
        exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
            LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"'
    unshare --mount --propagation private -- sh -c "$script" sh "$ROOTFS" "${BINDS[@]}" -- "$@"
}

# --- the toolchain chroot (once) ---------------------------------------------------------
want_stamp="$SUITE ${CHROOT_PKGS[*]}"
if [[ ! -f $STAMP || $(cat "$STAMP") != "$want_stamp" ]]; then
    start=$SECONDS
    log "building the $SUITE toolchain chroot in $ROOTFS (once; 1.5 GB)"
    rm -rf "$ROOTFS"
    mkdir -p "$TOOLCHAIN/debootstrap-cache"
    debootstrap --variant=minbase --cache-dir="$TOOLCHAIN/debootstrap-cache" \
        "$SUITE" "$ROOTFS" "$MIRROR" >&2 || die "debootstrap $SUITE failed (network to $MIRROR?)"
    cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
    in_chroot dpkg --add-architecture arm64
    in_chroot apt-get update -q >&2 || die "apt-get update in the chroot failed"
    in_chroot apt-get install -y -q --no-install-recommends "${CHROOT_PKGS[@]}" >&2 ||
        die "apt-get install ${CHROOT_PKGS[*]} in the chroot failed"
    in_chroot apt-get clean
    echo "$want_stamp" >"$STAMP"
    log "toolchain chroot ready in $((SECONDS - start)) s"
fi
in_chroot rustc --version >&2 || die "rustc does not run in $ROOTFS"
in_chroot test -d "/usr/lib/rustlib/$TRIPLE/lib" ||
    die "no $TRIPLE standard library in $ROOTFS (libstd-rust-dev:arm64)"

# --- crates: vendored on the host, keyed by the lock file --------------------------------
lock_hash=$(sha256sum "$CHECKOUT/Cargo.lock" | cut -c1-16)
VENDOR=$TOOLCHAIN/vendor/$lock_hash
if [[ ! -f $VENDOR/.complete ]]; then
    log "cargo vendor (Cargo.lock $lock_hash) into $VENDOR"
    rm -rf "$VENDOR"
    cargo vendor --quiet --locked --manifest-path "$CHECKOUT/Cargo.toml" "$VENDOR" >/dev/null ||
        die "cargo vendor failed (network to crates.io?)"
fi
# .complete's mtime is the last use: crates of lock files unused for 30 days go.
touch "$VENDOR/.complete"
find "$TOOLCHAIN/vendor" -mindepth 2 -maxdepth 2 -name .complete -mtime +30 -printf '%h\n' |
    while read -r old; do log "removing $old (unused for 30 days)"; rm -rf "$old"; done

# --- the build ---------------------------------------------------------------------------
checkout_hash=$(printf '%s' "$CHECKOUT" | sha256sum | cut -c1-16)
TARGET=$TOOLCHAIN/target/$checkout_hash
# A fresh clone per CI run would leave one ~250 MB target dir each: drop the target dirs
# of checkouts that no longer exist (each records its checkout's path).
for d in "$TOOLCHAIN"/target/*/; do
    [[ -f $d/.checkout && ! -d $(cat "$d/.checkout") ]] || continue
    log "removing $d (its checkout $(cat "$d/.checkout") is gone)"
    rm -rf "$d"
done
mkdir -p "$TARGET"
printf '%s\n' "$CHECKOUT" >"$TARGET/.checkout"
CARGO_HOME_DIR=$TOOLCHAIN/cargo-home
mkdir -p "$CARGO_HOME_DIR"
# Cargo reads the vendored sources instead of crates.io; no network in the build.
cat >"$CARGO_HOME_DIR/config.toml" <<'EOF'
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "/vendor"
EOF
flock -u 9

BINDS=("$CHECKOUT:/src:ro" "$VENDOR:/vendor:ro" "$TARGET:/target" "$CARGO_HOME_DIR:/cargo-home")
T=${TRIPLE//-/_}
log "cargo build --release --target $TRIPLE -p makedumpfile-cli (checkout $CHECKOUT)"
start=$SECONDS
in_chroot sh -c 'cd /src && exec "$@"' sh \
    env CARGO_HOME=/cargo-home CARGO_TARGET_DIR=/target \
    "CARGO_TARGET_${T^^}_LINKER=aarch64-linux-gnu-gcc" \
    "CARGO_TARGET_${T^^}_RUSTFLAGS=-C target-feature=+crt-static" \
    "CC_$T=aarch64-linux-gnu-gcc" "AR_$T=aarch64-linux-gnu-ar" \
    cargo build --release --locked --offline --target "$TRIPLE" -p makedumpfile-cli >&2 ||
    die "aarch64 build failed"
log "cargo build took $((SECONDS - start)) s"

built=$TARGET/$TRIPLE/release/makedumpfile
need_file "$built" "the aarch64 build wrote no binary"
mkdir -p "$(dirname "$OUT")"
# Stripped: the release profile's line tables quadruple the size, and a capture initramfs
# has to stay small (arm64.md); the unstripped binary stays in the target dir.
in_chroot aarch64-linux-gnu-strip -o "/target/makedumpfile.stripped" \
    "/target/$TRIPLE/release/makedumpfile" || die "aarch64-linux-gnu-strip failed"
mv "$TARGET/makedumpfile.stripped" "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
log "unstripped: $built"
echo "$OUT"
