# shellcheck shell=bash
# Sourced by scripts/make-vmcore-arm64.sh --with-dbg (host side, despite the directory: it
# belongs to the arm64 harness only). Debian's arm64 image packages ship a placeholder
# System.map; the real symbols are in linux-image-<kver>-dbg (about 1 GB for the 6.12
# flavours, far less for 6.1 cloud). Only the vmlinux is kept, once per kernel, in
# $CACHE/kernels-arm64/dbg/; the deb is deleted after extraction, as install-deps.sh does for
# the x86_64 kernels. System.map is made from it with the cross nm.

# dbg_vmlinux_into DIR: hard-link vmlinux and System.map of $KVER into DIR.
dbg_vmlinux_into() {
    local dir=$1 dbgdir=$CACHE/kernels-arm64/dbg deb tmp
    local vmlinux=$dbgdir/vmlinux-$KVER map=$dbgdir/System.map-$KVER
    mkdir -p "$dbgdir"
    if [[ ! -s $vmlinux ]]; then
        deb=$(arm64_deb "$SUITE" "linux-image-$KVER-dbg")
        log "extracting vmlinux-$KVER from $(basename "$deb")"
        tmp=$(mktemp -d "$dbgdir/x.XXXXXX")
        dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "./usr/lib/debug/boot/vmlinux-$KVER" ||
            { rm -rf "$tmp"; die "could not extract the vmlinux from $deb"; }
        mv "$tmp/usr/lib/debug/boot/vmlinux-$KVER" "$vmlinux"
        rm -rf "$tmp" "$deb"
    fi
    if [[ ! -s $map ]]; then
        need_cmd aarch64-linux-gnu-nm "apt-get install binutils-aarch64-linux-gnu"
        # The kernel's own scripts/mksysmap format: address, type, name, sorted.
        aarch64-linux-gnu-nm -n "$vmlinux" | grep -v -E ' [aNUw] | \$[adx]' >"$map.tmp"
        mv "$map.tmp" "$map"
    fi
    ln -f "$vmlinux" "$dir/vmlinux"
    ln -f "$map" "$dir/System.map"
    grep -q " _stext$" "$dir/System.map" || die "System.map of $KVER has no _stext"
}
