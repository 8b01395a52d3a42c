# shellcheck shell=bash
# Shared helpers for the real-vmcore harness. Source it, do not run it:
#   . "$(dirname "$0")/lib.sh"
#
# Everything big (kernel debs, unpacked kernels, vmcores of hundreds of MB, the drgn
# venv) lives in $CACHE, outside the checkout, so it is never committed by accident
# (real-vmcore.md, "Cache the kernel packages and the generated cores outside the repo").

if [[ -n "${_MDF_RS_LIB_SOURCED:-}" ]]; then
    return 0
fi
_MDF_RS_LIB_SOURCED=1

CACHE=${MAKEDUMPFILE_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/makedumpfile-rs}
SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CACHE SCRIPTS_DIR

# Debian's python sees python3-libkdumpfile (dist-packages); a pyenv python3 on PATH does
# not (readers-and-tools.md §1.2), so always name it explicitly.
DEBIAN_PYTHON=/usr/bin/python3
# drgn from PyPI (0.3.0 wheel bundles libkdumpfile with all codecs + flattened support).
DRGN_PYTHON=$CACHE/venv/bin/python
export DEBIAN_PYTHON DRGN_PYTHON

# Logging goes to stderr so stdout stays machine-readable (scripts print a path last).
_ts() { date +%H:%M:%S; }
log()  { printf '[%s] %s\n' "$(_ts)" "$*" >&2; }
warn() { printf '[%s] WARNING: %s\n' "$(_ts)" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$(_ts)" "$*" >&2; exit 1; }

# need_cmd CMD [HINT]: fail loudly (never skip) when a tool is missing.
need_cmd() {
    local cmd=$1 hint=${2:-run scripts/install-deps.sh}
    command -v "$cmd" >/dev/null 2>&1 || die "required command '$cmd' not found ($hint)"
}

# need_file PATH [HINT]
need_file() {
    local f=$1 hint=${2:-run scripts/install-deps.sh}
    [[ -e "$f" ]] || die "required file '$f' not found ($hint)"
}

need_root() {
    [[ $(id -u) -eq 0 ]] || die "this step needs root (apt-get / dpkg)"
}

# Kernel flavours used by the profiles; the -56 ABI is what the docs were verified with.
KERNEL_ABI=6.1.0-56
export KERNEL_ABI

# cached_deb PKG: path of a cached $CACHE/debs/PKG_*.deb, or nothing.
cached_deb() {
    local f
    for f in "$CACHE/debs/$1"_*.deb; do
        if [[ -e $f ]]; then echo "$f"; return 0; fi
    done
}

# --- arm64 (issue 15): Debian arm64 packages on this amd64 bookworm host ------------------
# A private apt configuration per suite instead of `dpkg --add-architecture arm64`: the host
# stays a pure bookworm amd64 system (no foreign architecture in its dpkg database, no trixie
# line in its sources), and trixie/sid arm64 indexes can never be picked up by a host
# `apt-get upgrade`. Nothing is installed through it: debs are only downloaded and extracted.
ARM64_APT_ROOT=$CACHE/apt-arm64
export ARM64_APT_ROOT

# arm64_apt SUITE APT-GET-ARGS...: apt-get against Debian SUITE (bookworm|trixie|sid) for
# arm64 only, with its own sources, lists, cache and an empty dpkg status.
# arm64_apt_cache SUITE ARGS...: the same for apt-cache (policy, show, search).
arm64_apt() { _arm64_apt_tool apt-get "$@"; }
arm64_apt_cache() { _arm64_apt_tool apt-cache "$@"; }
_arm64_apt_tool() {
    local tool=$1 suite=$2 root=$ARM64_APT_ROOT/$2
    shift 2
    if [[ ! -e $root/etc/sources.list ]]; then
        mkdir -p "$root"/etc/{apt.conf.d,preferences.d,sources.list.d} "$root"/state/lists/partial \
            "$root"/cache/archives/partial
        : >"$root/state/status"
        printf 'deb [arch=arm64] http://deb.debian.org/debian %s main\ndeb-src http://deb.debian.org/debian %s main\n' \
            "$suite" "$suite" >"$root/etc/sources.list"
    fi
    "$tool" -q -o "Dir::Etc::SourceList=$root/etc/sources.list" \
        -o "Dir::Etc::SourceParts=$root/etc/sources.list.d" \
        -o "Dir::Etc::Parts=$root/etc/apt.conf.d" \
        -o "Dir::Etc::PreferencesParts=$root/etc/preferences.d" \
        -o "Dir::State=$root/state" -o "Dir::State::status=$root/state/status" \
        -o "Dir::Cache=$root/cache" -o APT::Architecture=arm64 -o APT::Architectures::=arm64 \
        -o Acquire::Languages=none -o APT::Sandbox::User=root "$@"
}

# arm64_apt_ready SUITE: `apt-get update` of that private configuration, once per day.
arm64_apt_ready() {
    local stamp=$ARM64_APT_ROOT/$1/state/updated
    if [[ ! -e $stamp ]] || [[ -n $(find "$stamp" -mmin +1440) ]]; then
        log "apt-get update (private arm64 configuration for $1)"
        arm64_apt "$1" update >&2 || die "apt-get update for arm64 $1 failed (network to deb.debian.org?)"
        touch "$stamp"
    fi
}

# arm64_deb SUITE PKG: path of PKG's arm64 deb from SUITE, downloaded once into
# $CACHE/debs-arm64/SUITE/. PKG may be a virtual-free exact name (linux-image-6.12.x-arm64).
arm64_deb() {
    local suite=$1 pkg=$2 dir=$CACHE/debs-arm64/$1 f
    mkdir -p "$dir"
    for f in "$dir/${pkg}"_*_arm64.deb "$dir/${pkg}"_*_all.deb; do
        if [[ -e $f ]]; then echo "$f"; return 0; fi
    done
    arm64_apt_ready "$suite"
    log "apt-get download $pkg (arm64, $suite)"
    (cd "$dir" && arm64_apt "$suite" download "$pkg") >&2 || die "apt-get download $pkg:arm64 ($suite) failed"
    for f in "$dir/${pkg}"_*_arm64.deb "$dir/${pkg}"_*_all.deb; do
        if [[ -e $f ]]; then echo "$f"; return 0; fi
    done
    die "apt-get download $pkg:arm64 ($suite) produced no .deb in $dir"
}

# arm64_sysroot NAME SUITE PKG...: extract the arm64 debs into $CACHE/sysroot-arm64/NAME
# (once; a stamp lists the debs) and print its path. Runs dynamic arm64 binaries on the
# host with QEMU_LD_PREFIX=<sysroot> qemu-aarch64-static.
arm64_sysroot() {
    local name=$1 suite=$2 root=$CACHE/sysroot-arm64/$1 p debs=()
    shift 2
    for p in "$@"; do debs+=("$(arm64_deb "$suite" "$p")"); done
    if [[ ! -e $root/.extracted ]] || [[ $(cat "$root/.extracted") != "${debs[*]}" ]]; then
        rm -rf "$root"; mkdir -p "$root"
        for p in "${debs[@]}"; do dpkg-deb -x "$p" "$root"; done
        # trixie debs are /usr-merged: the /lib -> usr/lib links come from base-files, which
        # is not extracted, and the ELF interpreter is /lib/ld-linux-aarch64.so.1.
        for p in lib bin sbin; do
            [[ -e $root/$p || ! -d $root/usr/$p ]] || ln -s "usr/$p" "$root/$p"
        done
        echo "${debs[*]}" >"$root/.extracted"
    fi
    echo "$root"
}

# arm64_copy_with_libs BIN SYSROOT ROOT DEST: install the aarch64 BIN as ROOT/DEST plus every
# shared library it needs (DT_NEEDED, recursively), taken from SYSROOT, into ROOT/lib/
# aarch64-linux-gnu (the interpreter into ROOT/lib). ldd cannot do this for a foreign binary.
# libgcc_s.so.1 is added too: glibc dlopen()s it for pthread_exit (see make-vmcore.sh).
arm64_copy_with_libs() {
    local bin=$1 sysroot=$2 root=$3 dest=$4 todo=() name f d
    install -D -m 0755 "$bin" "$root$dest"
    readelf -lW "$bin" | grep -q 'Requesting program interpreter' || return 0
    mapfile -t todo < <(readelf -dW "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
    todo+=(libgcc_s.so.1)
    while ((${#todo[@]})); do
        name=${todo[0]}; todo=("${todo[@]:1}")
        d=/lib/aarch64-linux-gnu
        [[ $name == ld-linux-aarch64.so.1 ]] && d=/lib
        [[ -e $root$d/$name ]] && continue
        f=
        for f in "$sysroot"/{usr/lib/aarch64-linux-gnu,lib/aarch64-linux-gnu,usr/lib,lib}/"$name"; do
            [[ -e $f ]] && break
            f=
        done
        [[ -n $f ]] || die "$(basename "$bin") needs $name, which is not in $sysroot"
        install -D -m 0755 "$(readlink -f "$f")" "$root$d/$name"
        mapfile -t -O "${#todo[@]}" todo < <(readelf -dW "$f" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
    done
}

# Kernel modules of an unpacked kernel package, in dependency order (no kmod/depmod needed):
#   kmods_index MODDIR      -> fills KMOD_FILE[name] and KMOD_BUILTIN[name]
#   kmods_resolve NAME...   -> appends to KMOD_ORDER each module not built in, deps first
#   kmods_cat FILE          -> the .ko on stdout (.ko.xz decompressed)
# Names use '_' (modinfo "depends=" and file names mix '-' and '_').
declare -gA KMOD_FILE=() KMOD_BUILTIN=() _KMOD_SEEN=()
KMOD_ORDER=()
kmods_index() {
    local moddir=$1 f n
    KMOD_FILE=() KMOD_BUILTIN=() _KMOD_SEEN=() KMOD_ORDER=()
    while IFS= read -r f; do
        n=$(basename "$f"); n=${n%.xz}; n=${n%.ko}; KMOD_FILE[${n//-/_}]=$f
    done < <(find "$moddir/kernel" -name '*.ko' -o -name '*.ko.xz')
    while IFS= read -r f; do
        n=$(basename "$f"); n=${n%.ko}; KMOD_BUILTIN[${n//-/_}]=1
    done <"$moddir/modules.builtin"
}
kmods_cat() { case $1 in *.xz) xz -dc "$1" ;; *) cat "$1" ;; esac; }
kmods_resolve() {
    local name deps d
    for name in "$@"; do
        name=${name//-/_}
        [[ -n ${_KMOD_SEEN[$name]:-} ]] && continue
        _KMOD_SEEN[$name]=1
        [[ -n ${KMOD_BUILTIN[$name]:-} ]] && continue
        [[ -n ${KMOD_FILE[$name]:-} ]] || die "module $name: neither built in nor shipped"
        deps=$(kmods_cat "${KMOD_FILE[$name]}" | tr '\0' '\n' | grep -a -m1 '^depends=' | cut -d= -f2 || true)
        # shellcheck disable=SC2086  # deps is a comma list turned into words
        kmods_resolve ${deps//,/ }
        KMOD_ORDER+=("$name")
    done
}

# mkcpio DIR: a gzip'd newc archive of DIR on stdout, in a stable order.
mkcpio() {
    (cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null --create --format=newc --quiet) | gzip -6
}

# elf_vmcoreinfo CORE: the VMCOREINFO note text of an ELF core (kdump or QEMU dump) on stdout.
elf_vmcoreinfo() {
    "$DEBIAN_PYTHON" - "$1" <<'PY'
import struct, sys
with open(sys.argv[1], "rb") as f:
    eh = f.read(64)
    if eh[:4] != b"\x7fELF" or eh[4] != 2:
        sys.exit(f"{sys.argv[1]}: not an ELF64 file")
    phoff, = struct.unpack_from("<Q", eh, 32)
    phentsize, phnum = struct.unpack_from("<HH", eh, 54)
    f.seek(phoff)
    ph = f.read(phentsize * phnum)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", ph, i * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        f.seek(p_offset)
        notes, pos = f.read(p_filesz), 0
        while pos + 12 <= len(notes):
            namesz, descsz, _ = struct.unpack_from("<III", notes, pos)
            name = notes[pos + 12:pos + 12 + namesz].rstrip(b"\0")
            desc_at = pos + 12 + ((namesz + 3) & ~3)
            if name == b"VMCOREINFO":
                sys.stdout.write(notes[desc_at:desc_at + descsz].rstrip(b"\0").decode())
                sys.exit(0)
            pos = desc_at + ((descsz + 3) & ~3)
sys.exit(f"{sys.argv[1]}: no VMCOREINFO note")
PY
}

# --- pieces of the vmcore harness shared by make-vmcore.sh and make-vmcore-arm64.sh -------
# (make-vmcore.sh uses build_data_disk, extract_out_disk and collector_result; its
# collector-script and guest-configuration code still has its own copies, which its newer
# modes extended.)

# build_data_disk IMG RANDOM_MB B64_MB TEXT_MB: an ext4 image of files at three entropy
# levels (random = raw fallback, base64 ~75%, decimal text), read into the guest's page cache.
build_data_disk() {
    local img=$1 random_mb=$2 b64_mb=$3 text_mb=$4 d=$1.d i total_mb
    log "building data disk ($((random_mb + b64_mb + text_mb)) MB of files)"
    rm -rf "$d"; mkdir -p "$d"
    for ((i = 0; i < random_mb / 8; i++)); do head -c 8M /dev/urandom >"$d/random.$i"; done
    head -c $((b64_mb * 3 / 4))M /dev/urandom | base64 >"$d/b64.txt"
    seq 1 100000000 | head -c "${text_mb}M" >"$d/seq.txt" || true  # SIGPIPE on seq
    total_mb=$(du -sm "$d" | cut -f1)
    truncate -s 0 "$img.tmp"
    truncate -s $((total_mb * 5 / 4 + 32))M "$img.tmp"
    mkfs.ext4 -q -F -L mkvmcore-data -d "$d" "$img.tmp"
    mv "$img.tmp" "$img"
    rm -rf "$d"
}

# extract_out_disk IMG DIR: every regular file at the top of the ext4 image IMG into DIR.
extract_out_disk() {
    local img=$1 dir=$2 mode name
    # `ls -p` lines: /ino/mode/uid/gid/name/size/ ; regular files have mode 100xxx.
    while IFS=/ read -r _ _ mode _ _ name _; do
        [[ $mode == 100* ]] || continue
        debugfs -R "dump -p /$name $dir/$name" "$img" 2>/dev/null
        [[ -f $dir/$name ]] || die "debugfs could not extract /$name from $img"
    done < <(debugfs -R 'ls -p /' "$img" 2>/dev/null)
}

# collector_result PROFILE_TEXT COLLECTOR_TEXT EXIT_CODE VMCORE_SIZE [MODE_LINES]: result.txt
# of a collector-mode run, from $SERIAL, $RESULT_DIR/time.txt, $COLLECTOR_CMD and
# $KEEP_VMCORE; MODE_LINES (text) come after the profile line.
collector_result() {
    local maxrss elapsed kept crc=$3 size=$4
    maxrss=$(grep -a 'Maximum resident set size' "$RESULT_DIR/time.txt" 2>/dev/null | awk '{print $NF}' || true)
    elapsed=$(grep -a 'Elapsed (wall clock)' "$RESULT_DIR/time.txt" 2>/dev/null | awk '{print $NF}' || true)
    echo "profile:      $1"
    [[ -z ${5:-} ]] || printf '%s\n' "$5"
    echo "collector:    $2"
    echo "command:      $COLLECTOR_CMD"
    echo "exit code:    $crc"
    if ((KEEP_VMCORE)); then
        kept=$(grep -a -m1 '^@@MKV KEPT_VMCORE' "$SERIAL" | awk '{print $3}' | tr -d '\r')
        echo "source core:  $RESULT_DIR/${kept:-vmcore}"
    fi
    echo "capture cpus: $(grep -a -m1 '^@@MKV CAPTURE_CPUS' "$SERIAL" | awk '{print $3}' | tr -d '\r')"
    echo "capture cmdline: $(grep -a -m1 '^@@MKV CAPTURE_CMDLINE' "$SERIAL" | cut -d' ' -f3- | tr -d '\r')"
    echo "max RSS kB:   ${maxrss:-unknown}"
    echo "elapsed:      ${elapsed:-unknown} (inside TCG guest)"
    echo "vmcore size:  $size"
    grep -a -m1 '^@@MKV CAPTURE_MEM' "$SERIAL" | sed 's/^@@MKV CAPTURE_MEM/capture meminfo:/' | tr -d '\r'
    echo "created:      $(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

# collector_script ROOT ARGS: ROOT/etc/collector.sh from --collector-args text (make-vmcore.sh
# documents the rules: {vmcore}/{out}; a tail naming /proc/vmcore is the whole command, else
# "ARGS /proc/vmcore /out/dump"). Sets COLLECTOR_CMD. A file, not a conf variable: ARGS may
# hold quotes, pipes and redirections.
collector_script() {
    local args=${2//\{vmcore\}//proc/vmcore}
    args=${args//\{out\}//out}
    if [[ $args == */proc/vmcore* ]]; then
        COLLECTOR_CMD="collector $args"
    else
        COLLECTOR_CMD="collector $args /proc/vmcore /out/dump"
    fi
    printf '#!/bin/sh\nset -o pipefail\ncd /out\n%s\n' "$COLLECTOR_CMD" >"$1/etc/collector.sh"
    log "collector command: $COLLECTOR_CMD"
}

# guest_conf ROOT [EXTRA-LINE...]: ROOT/etc/mkvmcore.conf, the settings scripts/guest/init.sh
# reads, from the globals of the same names (MODULES from KMOD_ORDER).
# shellcheck disable=SC2153  # MODE and the others are the caller's globals
guest_conf() {
    local root=$1
    shift
    {
        echo "MODE=$MODE"
        echo "KEEP_VMCORE=$KEEP_VMCORE"
        echo "MODULES='${KMOD_ORDER[*]}'"
        echo "SHM_RANDOM_MB=$SHM_RANDOM_MB"
        echo "SHM_TEXT_MB=$SHM_TEXT_MB"
        echo "SHM_ZERO_MB=$SHM_ZERO_MB"
        echo "MEMHOGS='$MEMHOGS'"
        echo "SETTLE_SECONDS=$SETTLE_SECONDS"
        echo "CAPTURE_APPEND='$CAPTURE_APPEND'"
        printf '%s\n' "$@"
    } >"$root/etc/mkvmcore.conf"
}
