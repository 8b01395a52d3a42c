#!/usr/bin/env bash
# Build upstream makedumpfile 1.7.2 with zstd, the reference for the `-z` rows of
# benches/compare.py. Debian's makedumpfile 1.7.2 is built without zstd: its `-z` prints
# "'-z' option is disabled" and writes every page uncompressed, a different and cheaper
# job, so its `-z` times say nothing about ours.
#
# Usage: benches/build-makedumpfile-zstd.sh [SOURCE]
#   SOURCE: a git repository holding upstream's tag 1.7.2 (a local clone or mirror);
#           default https://github.com/makedumpfile/makedumpfile.
# Prints the binary's path: $CACHE/makedumpfile-1.7.2-zstd/makedumpfile. Build options
# as Debian's (dynamic, LZO) plus USEZSTD=on. With a vmcore from scripts/make-vmcore.sh
# present, it also checks that our `-z` dump is byte-identical to this build's.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

SOURCE=${1:-https://github.com/makedumpfile/makedumpfile}
DEST=$CACHE/makedumpfile-1.7.2-zstd
BIN=$DEST/makedumpfile

if [[ ! -x $BIN ]]; then
    need_cmd git
    need_cmd make
    need_cmd cc "apt-get install gcc"
    deps=(libzstd-dev libelf-dev libdw-dev liblzo2-dev libbz2-dev zlib1g-dev)
    missing=()
    for p in "${deps[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    fi
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    log "cloning $SOURCE (tag 1.7.2)"
    git clone -q "$SOURCE" "$work/src" || die "cannot clone $SOURCE; pass a local clone as SOURCE"
    git -C "$work/src" checkout -q 1.7.2 || die "$SOURCE has no tag 1.7.2"
    log "building with USELZO=on USEZSTD=on"
    make -C "$work/src" LINKTYPE=dynamic USELZO=on USEZSTD=on -j"$(nproc)" >"$work/build.log" 2>&1 ||
        { tail -20 "$work/build.log" >&2; die "makedumpfile 1.7.2 did not build"; }
    mkdir -p "$DEST"
    install -m 755 "$work/src/makedumpfile" "$BIN"
fi
"$BIN" -v | grep -q '^zstd[[:space:]]*enabled' || die "$BIN was built without zstd"

VMCORE=$CACHE/vmcores/cloud-1g/vmcore
OURS=$(cd "$(dirname "$0")/.." && pwd)/target/release/makedumpfile
if [[ -e $VMCORE && -x $OURS ]]; then
    out=$(mktemp -d)
    "$OURS" -z -d 31 "$VMCORE" "$out/ours" >/dev/null 2>&1 || die "our -z -d 31 failed"
    "$BIN" -z -d 31 "$VMCORE" "$out/ref" >/dev/null 2>&1 || true
    if cmp -s "$out/ours" "$out/ref"; then
        log "-z -d 31: our dump is byte-identical to makedumpfile 1.7.2 with zstd"
    else
        rm -rf "$out"
        die "-z -d 31: our dump differs from makedumpfile 1.7.2 with zstd"
    fi
    rm -rf "$out"
fi
echo "$BIN"
