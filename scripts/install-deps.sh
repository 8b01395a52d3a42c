#!/usr/bin/env bash
# Install everything the real-vmcore harness needs (idempotent).
#
#   scripts/install-deps.sh [--with-dbg]
#
# - Debian packages (apt-get update only when something is missing, so reruns are offline-fast).
# - A venv at $CACHE/venv with PyPI drgn (0.3.0 wheel: bundled libkdumpfile with zlib/lzo/snappy/
#   zstd and flattened support; Debian's python3-drgn 0.0.22 cannot read flattened files).
# - --with-dbg: the debug vmlinux of both kernel flavours, for crash (it needs DWARF;
#   readers-and-tools.md §1.1): linux-image-<abi>-cloud-amd64-dbg (283 MB deb) and
#   linux-image-<abi>-amd64-dbg (858 MB deb). Only the vmlinux is kept, as
#   $CACHE/kernels/dbg/vmlinux-<abi>-<flavour>; the deb is deleted after extraction.
#   Off by default because of its size; tests/readers.sh needs it.
# - --arm64: what the arm64 harness needs (scripts/make-vmcore-arm64.sh,
#   scripts/build-makedumpfile-arm64.sh, tests/arm64-reference.sh): qemu-system-aarch64,
#   qemu-aarch64-static (runs the arm64 makedumpfiles on this host), the aarch64 cross gcc.
#   The arm64 debs themselves come later, through lib.sh's private apt configuration.
# Ends by running every tool once, so a broken install fails here and not in a test.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

WITH_DBG=0
WITH_ARM64=0
for arg in "$@"; do
    case $arg in
        --with-dbg) WITH_DBG=1 ;;
        --arm64) WITH_ARM64=1 ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) die "unknown argument: $arg" ;;
    esac
done

PKGS=(qemu-system-x86 busybox-static cpio kexec-tools e2fsprogs makedumpfile crash
      python3-libkdumpfile hyperfine xz-utils time gcc libc6-dev python3-venv)
# --- aarch64 build (scripts/build-aarch64.sh, tests/aarch64-binary.sh) ---
# debootstrap makes the trixie toolchain chroot; qemu-user-static runs the aarch64 binary
# on this host; file and readelf (binutils) check that it is a static aarch64 executable.
PKGS+=(debootstrap qemu-user-static file binutils)
# --- end aarch64 build ---
# gdb-add-index (package gdb) gives the debug vmlinux a .gdb_index; see --with-dbg below.
((WITH_DBG)) && PKGS+=(gdb binutils)
((WITH_ARM64)) && PKGS+=(qemu-system-arm qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross
                         binutils make git)

pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

missing=()
for p in "${PKGS[@]}"; do
    pkg_installed "$p" || missing+=("$p")
done
if ((${#missing[@]})); then
    need_root
    need_cmd apt-get "this harness targets Debian 12"
    log "installing: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
else
    log "all Debian packages present"
fi

# venv + drgn. Prefer Debian's python (3.11, which the cp311 wheel targets); fall back to
# whatever python3.11 is on PATH (e.g. pyenv) if Debian's cannot make a venv.
mkdir -p "$CACHE"
if ! "$DRGN_PYTHON" -c 'import drgn' 2>/dev/null; then
    rm -rf "$CACHE/venv"
    made=0
    for py in /usr/bin/python3 "$(command -v python3.11 || true)"; do
        [[ -n "$py" && -x "$py" ]] || continue
        if "$py" -m venv "$CACHE/venv"; then made=1; break; fi
        rm -rf "$CACHE/venv"
    done
    ((made)) || die "could not create a venv at $CACHE/venv (is python3-venv installed?)"
    log "pip install drgn into $CACHE/venv"
    "$CACHE/venv/bin/pip" install --quiet --upgrade pip
    "$CACHE/venv/bin/pip" install --quiet drgn
fi
# matplotlib: the PNG plot of benches/compare.py.
if ! "$DRGN_PYTHON" -c 'import matplotlib' 2>/dev/null; then
    log "pip install matplotlib into $CACHE/venv"
    "$CACHE/venv/bin/pip" install --quiet matplotlib
fi

if ((WITH_DBG)); then
    # Both flavours the profiles boot: cloud-1g (cloud-amd64, 283 MB deb) and generic-2g
    # (amd64, 858 MB deb: it carries the debug info of every module). crash only needs the
    # vmlinux (590-700 MB unpacked), so that is all we keep: the deb is deleted afterwards.
    for flavour in cloud-amd64 amd64; do
        dbgpkg=linux-image-$KERNEL_ABI-$flavour-dbg
        vmlinux=$CACHE/kernels/dbg/vmlinux-$KERNEL_ABI-$flavour
        if [[ ! -s $vmlinux ]]; then
            need_root
            mkdir -p "$CACHE/debs" "$CACHE/kernels/dbg"
            deb=$(cached_deb "$dbgpkg")
            if [[ -z $deb ]]; then
                log "downloading $dbgpkg ($(apt-cache show "$dbgpkg" 2>/dev/null |
                    awk '/^Size:/ {printf "%d MB", $2 / 1e6; exit}'))"
                (cd "$CACHE/debs" && apt-get download "$dbgpkg") >&2 ||
                    die "apt-get download $dbgpkg failed (apt-get update? network?)"
                deb=$(cached_deb "$dbgpkg")
                [[ -n $deb ]] || die "apt-get download $dbgpkg produced no .deb"
            fi
            # Extract only the vmlinux rather than the whole -dbg tree.
            log "extracting vmlinux-$KERNEL_ABI-$flavour from $(basename "$deb")"
            tmp=$(mktemp -d "$CACHE/kernels/dbg/x.XXXXXX")
            dpkg-deb --fsys-tarfile "$deb" |
                tar -x -C "$tmp" "./usr/lib/debug/boot/vmlinux-$KERNEL_ABI-$flavour" ||
                { rm -rf "$tmp"; die "could not extract the vmlinux from $deb"; }
            mv "$tmp/usr/lib/debug/boot/vmlinux-$KERNEL_ABI-$flavour" "$vmlinux"
            rm -rf "$tmp" "$deb"
        fi
        # crash's embedded gdb spends most of its start-up building partial symbol tables
        # from the DWARF; a .gdb_index section makes it 2.5-3x faster (cloud vmlinux:
        # 25.6 s -> 8.7 s wall, 9.7 -> 3.7 s CPU for sys/ps/kmem -i/log on a loaded host)
        # and changes no output. Added once (12 s, +37 MB) on a copy, so an interrupted
        # run never leaves a half-written vmlinux.
        if ! readelf -S "$vmlinux" 2>/dev/null | grep -q '\.gdb_index'; then
            need_cmd gdb-add-index "apt-get install gdb"
            log "gdb-add-index $(basename "$vmlinux")"
            cp "$vmlinux" "$vmlinux.idx.tmp"
            gdb-add-index "$vmlinux.idx.tmp" >&2 || { rm -f "$vmlinux.idx.tmp"; die "gdb-add-index $vmlinux failed"; }
            readelf -S "$vmlinux.idx.tmp" | grep -q '\.gdb_index' ||
                { rm -f "$vmlinux.idx.tmp"; die "gdb-add-index added no .gdb_index to $vmlinux"; }
            mv "$vmlinux.idx.tmp" "$vmlinux"
        fi
        log "debug vmlinux: $vmlinux"
    done
fi

# Verify that each tool actually runs.
log "verifying tools"
need_cmd makedumpfile
need_cmd crash
need_cmd qemu-system-x86_64
need_cmd busybox
need_cmd cpio
need_cmd mkfs.ext4
need_cmd debugfs
need_cmd gcc
need_cmd xz
need_cmd hyperfine
need_file /usr/bin/time
# --- aarch64 build ---
need_cmd debootstrap
need_cmd qemu-aarch64-static
need_cmd file
need_cmd readelf
# --- end aarch64 build ---
need_file /bin/busybox
# grep the banner instead of trusting the exit status of `-v`.
(makedumpfile -v 2>&1 || true) | grep -m1 'makedumpfile: version' >&2 || die "makedumpfile -v failed"
(crash --version 2>&1 || true) | grep -m1 '^crash ' >&2 || die "crash --version failed"
qemu-system-x86_64 --version | head -n1 >&2 || die "qemu-system-x86_64 --version failed"
"$DEBIAN_PYTHON" -c 'import kdumpfile; print("python3-libkdumpfile OK:", kdumpfile.__file__)' >&2 ||
    die "Debian python cannot import kdumpfile (python3-libkdumpfile)"
"$DRGN_PYTHON" -c 'import drgn; print("drgn", drgn.__version__, "with libkdumpfile:", drgn._with_libkdumpfile)' >&2 ||
    die "drgn not importable from $DRGN_PYTHON"
"$DRGN_PYTHON" -c 'import drgn, sys; sys.exit(0 if drgn._with_libkdumpfile else 1)' ||
    die "drgn in $CACHE/venv was built without libkdumpfile; cannot read kdump files"
if ((WITH_ARM64)); then
    need_cmd qemu-system-aarch64
    need_cmd qemu-aarch64-static
    need_cmd aarch64-linux-gnu-gcc
    qemu-system-aarch64 --version | head -n1 >&2 || die "qemu-system-aarch64 --version failed"
    # The cross compiler links and qemu-user runs the result: the whole arm64 tool chain.
    t=$(mktemp -d)
    printf 'int main(void) { return 42; }\n' >"$t/t.c"
    aarch64-linux-gnu-gcc -static -o "$t/t" "$t/t.c" || die "aarch64-linux-gnu-gcc cannot link"
    rc=0; qemu-aarch64-static "$t/t" || rc=$?
    rm -rf "$t"
    ((rc == 42)) || die "qemu-aarch64-static did not run an aarch64 binary (exit $rc)"
    log "arm64 tools OK"
fi
log "dependencies OK (cache: $CACHE)"
