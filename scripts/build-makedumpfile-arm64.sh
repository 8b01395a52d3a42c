#!/usr/bin/env bash
# The arm64 REFERENCE makedumpfiles, on this x86_64 host (issue 15 item 4).
#
#   scripts/build-makedumpfile-arm64.sh [NAME...]      (default: all of them)
#
# Each NAME is installed under $CACHE/makedumpfile-arm64/NAME/:
#   makedumpfile   the aarch64 binary (dynamic)
#   sysroot/       the arm64 libraries it needs (and its ELF interpreter)
#   run            host wrapper: QEMU_LD_PREFIX=sysroot qemu-aarch64-static makedumpfile "$@"
#   VERSION        where it came from (package version or git commit)
# In the capture kernel: scripts/make-vmcore-arm64.sh --collector DIR/makedumpfile --sysroot DIR/sysroot
#
# NAMEs:
#   debian-1.7.2  Debian bookworm's makedumpfile:arm64 1:1.7.2-1 (deb extracted, bookworm
#                 libraries): the reference for the 6.1 kernels of bookworm.
#   debian-1.7.8  Debian sid's makedumpfile:arm64 1:1.7.8-1 (sid libraries): Debian's newest.
#   1.7.9         upstream release 1.7.9 (the newest tag), `git archive 1.7.9` of the mirror.
#   master        upstream master, `git archive master` of the mirror; the only one with
#                 5-level tables for 4K pages with 52-bit VA (b7587f1), which is what
#                 trixie's 6.12 arm64 kernel runs with on `-cpu max`.
# The upstream builds are cross-compiled with aarch64-linux-gnu-gcc --sysroot=<bookworm arm64
# -dev debs>, `make LINKTYPE=dynamic USELZO=on USEZSTD=on HOST_ARCH=... TARGET=aarch64` (the
# options of Debian's package: lzo and zstd, no snappy). The source is never committed: it
# is exported from /work/.mirror/makedumpfile+makedumpfile/repo into $CACHE/build.
# Why not Debian's source package of the release: `apt-get source makedumpfile` (sid 1.7.8,
# trixie 1.7.6) gets 404 for the .dsc/.orig.tar.gz from this network, while binary debs
# download; so Debian's 1.7.8 is its binary, and the upstream tags come from the mirror.
# Last stdout line: $CACHE/makedumpfile-arm64.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MIRROR=${MAKEDUMPFILE_MIRROR:-/work/.mirror/makedumpfile+makedumpfile/repo}
ALL=(debian-1.7.2 debian-1.7.8 1.7.9 master)
NAMES=("$@")
((${#NAMES[@]})) || NAMES=("${ALL[@]}")
for n in "${NAMES[@]}"; do
    case $n in -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;; esac
    [[ " ${ALL[*]} " == *" $n "* ]] || die "unknown reference '$n' (${ALL[*]})"
done
for c in apt-get apt-cache dpkg-deb readelf qemu-aarch64-static aarch64-linux-gnu-gcc make git; do
    need_cmd "$c" "run scripts/install-deps.sh --arm64"
done
DEST=$CACHE/makedumpfile-arm64
mkdir -p "$DEST"

# lib_closure SUITE PKG: the library packages PKG needs at run time (recursively), without
# perl, debconf and the other non-library dependencies of the makedumpfile package.
lib_closure() {
    arm64_apt_ready "$1"
    arm64_apt_cache "$1" depends --recurse --no-recommends --no-suggests --no-conflicts \
        --no-breaks --no-replaces --no-enhances "$2" |
        grep -v '^ ' | grep -E '^(lib|zlib1g$|gcc-[0-9]+-base$)' | grep -v -E 'perl|^libdb|^libgdbm' | sort -u
}

# write_run DIR: the host wrapper (qemu-user with the sysroot as the library prefix).
write_run() {
    cat >"$1/run" <<'EOF'
#!/bin/sh
# Run this aarch64 makedumpfile on an x86_64 host (qemu-user; about 5-20x slower than native).
here=$(cd "$(dirname "$0")" && pwd)
QEMU_LD_PREFIX=$here/sysroot exec qemu-aarch64-static "$here/makedumpfile" "$@"
EOF
    chmod +x "$1/run"
}

# check DIR: the installed reference runs and prints its version banner.
check() {
    local v
    v=$("$1/run" -v 2>&1 | grep -m1 'makedumpfile: version' || true)
    [[ -n $v ]] || die "$1/run -v printed no version banner"
    log "$(basename "$1"): $v"
}

install_debian() {  # NAME SUITE VERSION-PREFIX
    local name=$1 suite=$2 want=$3 dir=$DEST/$1 sys deb pkgs bin
    if [[ -x $dir/makedumpfile && -e $dir/VERSION ]]; then check "$dir"; return 0; fi
    mapfile -t pkgs < <(lib_closure "$suite" makedumpfile)
    sys=$(arm64_sysroot "mdf-$name" "$suite" makedumpfile "${pkgs[@]}")
    deb=$(arm64_deb "$suite" makedumpfile)
    [[ $(dpkg-deb -f "$deb" Version) == 1:$want* ]] ||
        die "$suite's makedumpfile is $(dpkg-deb -f "$deb" Version), not $want"
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
    cp -a "$sys" "$dir.tmp/sysroot"
    bin=$sys/usr/bin/makedumpfile   # /usr/sbin in older releases
    [[ -x $bin ]] || bin=$sys/usr/sbin/makedumpfile
    install -m 0755 "$bin" "$dir.tmp/makedumpfile"
    echo "Debian $suite makedumpfile:arm64 $(dpkg-deb -f "$deb" Version) ($(basename "$deb")); libraries: ${pkgs[*]}" >"$dir.tmp/VERSION"
    write_run "$dir.tmp"
    rm -rf "$dir"; mv "$dir.tmp" "$dir"
    check "$dir"
}

# The cross-build sysroot: bookworm's arm64 glibc and the -dev packages of the Build-Depends.
# Bookworm, not trixie: the host's gcc-aarch64-linux-gnu links its own glibc 2.36
# (/usr/aarch64-linux-gnu/lib comes before the sysroot's directories), and trixie's libdw
# needs glibc 2.38 symbols (__isoc23_strtol...). The result runs on bookworm and trixie.
build_sysroot() {
    arm64_sysroot cross-bookworm bookworm libc6 libc6-dev linux-libc-dev libcrypt1 libcrypt-dev \
        libgcc-s1 libelf1 libelf-dev libdw1 libdw-dev zlib1g zlib1g-dev liblzma5 liblzma-dev \
        libzstd1 libzstd-dev libbz2-1.0 libbz2-dev liblzo2-2 liblzo2-dev
}

install_upstream() {  # NAME REF
    local name=$1 ref=$2 dir=$DEST/$1 commit src sys
    [[ -d $MIRROR ]] || die "no makedumpfile mirror at $MIRROR"
    commit=$(git -C "$MIRROR" rev-parse --verify "$ref^{commit}") || die "no $ref in $MIRROR"
    if [[ -x $dir/makedumpfile ]] && grep -q "$commit" "$dir/VERSION" 2>/dev/null; then
        check "$dir"; return 0
    fi
    sys=$(build_sysroot)
    src=$CACHE/build/makedumpfile-arm64/$name
    rm -rf "$src"; mkdir -p "$src"
    git -C "$MIRROR" archive "$commit" | tar -x -C "$src"
    log "cross-building makedumpfile $ref ($commit)"
    # -U__x86_64__ comes from the Makefile when TARGET != HOST_ARCH; CC carries --sysroot so
    # the compile, the try-run link tests and the final link all see arm64 headers/libs.
    make -C "$src" -j2 CC="aarch64-linux-gnu-gcc --sysroot=$sys" LINKTYPE=dynamic \
        USELZO=on USEZSTD=on HOST_ARCH=x86_64 TARGET=aarch64 makedumpfile >"$src.build.log" 2>&1 ||
        { tail -n 30 "$src.build.log" >&2; die "cross build of makedumpfile $ref failed (log: $src.build.log)"; }
    readelf -hW "$src/makedumpfile" | grep -q AArch64 || die "$src/makedumpfile is not aarch64"
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
    install -m 0755 "$src/makedumpfile" "$dir.tmp/makedumpfile"
    # Only the libraries it links (not the -dev trees): small enough for the capture initrd
    # and for QEMU_LD_PREFIX.
    mkdir -p "$dir.tmp/sysroot"
    arm64_copy_with_libs "$src/makedumpfile" "$sys" "$dir.tmp/sysroot" /usr/sbin/makedumpfile
    rm "$dir.tmp/sysroot/usr/sbin/makedumpfile"
    echo "upstream makedumpfile $ref, commit $commit ($(git -C "$MIRROR" log -1 --format=%cd "$commit")), cross-built against bookworm arm64 libraries: LINKTYPE=dynamic USELZO=on USEZSTD=on" >"$dir.tmp/VERSION"
    write_run "$dir.tmp"
    rm -rf "$dir"; mv "$dir.tmp" "$dir"
    check "$dir"
}

for n in "${NAMES[@]}"; do
    case $n in
        debian-1.7.2) install_debian "$n" bookworm 1.7.2 ;;
        debian-1.7.8) install_debian "$n" sid 1.7.8 ;;
        1.7.9) install_upstream "$n" 1.7.9 ;;
        master) install_upstream "$n" master ;;
    esac
done
echo "$DEST"
