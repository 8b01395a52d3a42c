#!/usr/bin/env bash
# Make a REAL arm64 vmcore on this x86_64 host: boot a Debian arm64 kernel under
# qemu-system-aarch64 (TCG, -M virt, direct kernel boot with a device tree), build the same
# workload as scripts/make-vmcore.sh (page cache, shmem, anonymous memory, zero pages), arm a
# capture kernel with kexec-tools' `kexec -p` (kexec_load: Debian's arm64 kernels have no
# KEXEC_FILE), panic with sysrq-c, and save /proc/vmcore from the capture kernel.
# The guest runs the x86_64 /init unchanged (scripts/guest/init.sh); scripts/guest-arm64/
# holds what differs (the kexec wrapper, the QEMU-dump wait script).
#
# Usage:
#   scripts/make-vmcore-arm64.sh --profile P [--force] [--with-dbg]
#       Copy mode. Result:  $CACHE/vmcores/<P>/vmcore  (ELF64 core, written atomically)
#       and beside it: info.txt (the meta file: profile, kernel, SOURCE of the core, sizes),
#       vmcoreinfo.txt (the VMCOREINFO note), osrelease, config (the kernel's .config),
#       serial.log; with --with-dbg also vmlinux and System.map from the kernel's -dbg
#       package (about 1 GB download each; Debian's image packages carry a placeholder
#       System.map only). Cached unless --force.
#   scripts/make-vmcore-arm64.sh --profile P --collector BIN [--sysroot DIR]
#           [--collector-args "ARGS" | --collector-script FILE] [--collector-extra NAME=BIN[:SYSROOT]]...
#           [--capture-cpus N] [--capture-append "ARGS"] [--keep-vmcore] [--out-disk-mb MB]
#       Collector mode, as in make-vmcore.sh: the aarch64 BIN (static, or dynamic with its
#       DT_NEEDED libraries taken from the sysroot DIR, e.g. $CACHE/makedumpfile-arm64/<name>/
#       sysroot) runs as /bin/collector inside the arm64 capture kernel against /proc/vmcore;
#       {vmcore}/{out} substitution and the command rules are those of make-vmcore.sh.
#       --capture-cpus 2 gives the capture kernel nr_cpus=2 (for --num-threads 2).
#       --first-kernel-script FILE: the FIRST kernel runs FILE (busybox sh -o pipefail, in
#       /out, with the workload in place and the capture kernel armed, /bin/collector and
#       the extras installed) before the panic; its files come back with the collector's.
#       For what needs a live arm64 kernel with crashkernel reserved (--mem-usage).
#       Output: $CACHE/collector-out/<P>/ (the files of /out, collector.log, time.txt,
#       result.txt, serial.log).
#     Several binaries in the SAME capture kernel (one boot, one /proc/vmcore for all):
#       --collector-extra NAME=BIN[:SYSROOT] (repeatable) also installs the aarch64 BIN as
#       /bin/NAME, a dynamic one with its libraries from SYSROOT (default: --sysroot). All
#       libraries share /lib/aarch64-linux-gnu and the first binary installed wins a name:
#       BIN, then the extras in order, then GNU time (trixie) - give binaries that need
#       different glibcs no common library, or expect the later one to fail loudly.
#       --collector-script FILE (instead of --collector-args, as in make-vmcore.sh): the
#       capture kernel runs FILE (busybox sh -o pipefail, in /out, /proc/vmcore unchanged
#       between its commands); e.g. several dumps one after another, each summed with
#       busybox sha256sum and deleted when the output disk (guest memory + 512 MB, or
#       --out-disk-mb MB) would not hold them all. Its exit status is the collector's.
#
# Profiles (kernels from Debian, downloaded with a private apt configuration, see lib.sh):
#   bookworm-cloud-arm64  linux-image-6.1.0-*-cloud-arm64  4K pages, VA 48, 1024 MB, kdump core
#                     (crashkernel=256M@1408M; /proc/kallsyms gets a `_text` line for kexec,
#                     see Findings). The kernel Debian's makedumpfile 1.7.2 knows.
#   trixie-arm64      linux-image-6.12.*+deb13-arm64      4K pages, 1024 MB, kdump core
#   trixie-arm64-va48 the same kernel on -cpu max,lpa2=off: 4K pages, 48-bit VA (4 levels)
#   trixie-arm64-16k  linux-image-6.12.*+deb13-arm64-16k  16K pages, 1536 MB, kdump core
#   trixie-arm64-16k-va47  the 16K kernel on -cpu max,lpa2=off: 47-bit VA (3 levels)
#   bookworm-cloud-arm64-qemudump
#                     linux-image-6.1.0-*-cloud-arm64     4K pages, 1024 MB. NOT a kdump core:
#                     QEMU's dump-guest-memory of the live guest (-device vmcoreinfo, guest
#                     has qemu_fw_cfg loaded) after the same workload; a second source, made
#                     while no kexec capture of 6.1 worked (bookworm-cloud-arm64 now does).
#                     info.txt says "source: qemu dump-guest-memory". Not a kdump layout:
#                     program headers at offset 192, one PT_LOAD with physical addresses as
#                     p_vaddr; makedumpfile: "get_elf_info: Can't get the number of PT_LOAD";
#                     libkdumpfile and drgn read it.
#
# Last stdout line: the vmcore path (copy mode) or the collector-out directory.
# Environment: MAKEDUMPFILE_RS_CACHE (cache dir), QEMU_TIMEOUT (seconds, default 1200).
#
# Findings (issue 15, 2026-12-06, QEMU 7.2 TCG on 2 shared x86_64 cores, load 7-11):
#   - trixie 6.12 kernels on -cpu max run 52-bit VA with LPA2 (VMCOREINFO TCR_EL1_T1SZ=0xc,
#     5 levels for 4K, 4 for 16K). With lpa2=off the same kernels run 48-bit (4K) or 47-bit
#     (16K, 3 levels) VA. All four capture with kexec -p in 60-130 s of QEMU.
#   - Booting the LPA2 CPU with arm64.nolva instead of lpa2=off: the capture kernel printed
#     nothing after "Starting crashdump kernel... Bye!" (not pursued).
#   - bookworm 6.1 (cloud-arm64): the /proc/vmcore of size ~2^64 seen before comes from
#     kexec-tools, not from the kernel: 6.1's /proc/kallsyms has _stext but no _text, kexec
#     says "Can't get the symbol of _text to calculate page_offset" and writes a "Kernel
#     text" PT_LOAD with p_vaddr 0xffffffffffffffff and p_filesz 0xffffa54049aa0000 into the
#     elfcorehdr (kexec -p -d). Giving kexec a /proc/kallsyms with `_text = _stext - 64K`
#     (bind mount over a copy, guest-arm64/kexec-crash.sh) fixes the header.
#   - makedumpfile on these cores (tests/arm64-reference.sh --matrix; qemu-user on the host):
#       bookworm-cloud-arm64 (4K, VA 48)          : Debian 1.7.2, Debian 1.7.8, 1.7.9, master
#       trixie-arm64-va48 / -16k-va47 (lpa2=off)   : master only; 1.7.x refuse "PAGE SIZE 0x1000
#                                                    (0x4000) and VA Bits 52 not supported" (they
#                                                    take the configured VA_BITS, not T1SZ)
#       trixie-arm64 / -16k (52-bit VA, LPA2)      : none; master stops at "vaddr_to_paddr_arm64:
#                                                    Can't read p4d" (4K) / "Can't read pud" (16K)
#     libkdumpfile (bookworm's python3-libkdumpfile) and drgn 0.3.0 read init_uts_ns from the
#     memory of every core above, LPA2 ones and the QEMU dump included.
#   - The aarch64 makedumpfiles also run inside the capture kernel (collector mode): master
#     -l -d 31 on trixie-arm64-va48 in 2.0 s of guest time; Debian 1.7.2 -c --num-threads 2
#     with nr_cpus=2 on bookworm-cloud-arm64 in 15 s. The same 1.7.2 with -l --num-threads 2
#     aborted once (of three runs) at its end: "libgcc_s.so.1 must be installed for
#     pthread_exit to work", exit 134, with libgcc_s.so.1 in /lib/aarch64-linux-gnu of the
#     initrd (arm64_copy_with_libs adds it); not reproduced, not explained.
#   - Several makedumpfiles in ONE capture kernel (--collector-extra, --collector-script;
#     tests/arm64-capture.sh, nr_cpus=2): ours writes the same bytes as Debian 1.7.2 on
#     bookworm-cloud-arm64 and as master on trixie-arm64-va48, for -l --message-level 7
#     -d 31 and -c -d 31; ours --num-threads 2 the same as ours serial. 1.7.2 prints "The
#     kernel version is not supported" for 6.1 and exits 0. Dumps of -d 31: 25-27 MB (-l)
#     and 18-20 MB (-c) on bookworm, 47-55 and 35-41 MB on trixie; 1.4-8.5 s each in the guest.
#   - Run times (this host, shared): a kdump profile takes 1.5-2.5 min (60-130 s of QEMU);
#     the qemu-dump profile 35 s; --with-dbg once per kernel: 1 GB download + 1-2 min of xz.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PROFILE=
FORCE=0
WITH_DBG=0
COLLECTOR=
COLLECTOR_SYSROOT=
COLLECTOR_ARGS=
COLLECTOR_ARGS_SET=0
KEEP_VMCORE=0
CAPTURE_CPUS=1
CAPTURE_EXTRA=
COLLECTOR_SCRIPT=
COLLECTOR_EXTRAS=()
OUT_DISK_MB=
FIRST_SCRIPT=
while (($#)); do
    case $1 in
        --profile) PROFILE=${2:?--profile needs a value}; shift 2 ;;
        --profile=*) PROFILE=${1#*=}; shift ;;
        --force) FORCE=1; shift ;;
        --with-dbg) WITH_DBG=1; shift ;;
        --keep-vmcore) KEEP_VMCORE=1; shift ;;
        --capture-cpus) CAPTURE_CPUS=${2:?--capture-cpus needs a number}; shift 2 ;;
        --capture-cpus=*) CAPTURE_CPUS=${1#*=}; shift ;;
        --capture-append) CAPTURE_EXTRA=${2?--capture-append needs a value}; shift 2 ;;
        --capture-append=*) CAPTURE_EXTRA=${1#*=}; shift ;;
        --collector) COLLECTOR=${2:?--collector needs a path}; shift 2 ;;
        --collector=*) COLLECTOR=${1#*=}; shift ;;
        --sysroot) COLLECTOR_SYSROOT=${2:?--sysroot needs a directory}; shift 2 ;;
        --sysroot=*) COLLECTOR_SYSROOT=${1#*=}; shift ;;
        --collector-args) COLLECTOR_ARGS=${2?--collector-args needs a value}; COLLECTOR_ARGS_SET=1; shift 2 ;;
        --collector-args=*) COLLECTOR_ARGS=${1#*=}; COLLECTOR_ARGS_SET=1; shift ;;
        --collector-script) COLLECTOR_SCRIPT=${2:?--collector-script needs a file}; shift 2 ;;
        --collector-script=*) COLLECTOR_SCRIPT=${1#*=}; shift ;;
        --collector-extra) COLLECTOR_EXTRAS+=("${2:?--collector-extra needs NAME=BIN[:SYSROOT]}"); shift 2 ;;
        --collector-extra=*) COLLECTOR_EXTRAS+=("${1#*=}"); shift ;;
        --first-kernel-script) FIRST_SCRIPT=${2:?--first-kernel-script needs a file}; shift 2 ;;
        --first-kernel-script=*) FIRST_SCRIPT=${1#*=}; shift ;;
        --out-disk-mb) OUT_DISK_MB=${2:?--out-disk-mb needs a number}; shift 2 ;;
        --out-disk-mb=*) OUT_DISK_MB=${1#*=}; shift ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[[ -n $PROFILE ]] || die "--profile is required (trixie-arm64|trixie-arm64-va48|trixie-arm64-16k|trixie-arm64-16k-va47|bookworm-cloud-arm64-qemudump)"
if [[ -z $COLLECTOR ]] && ((COLLECTOR_ARGS_SET || KEEP_VMCORE || ${#COLLECTOR_EXTRAS[@]})) ||
        [[ -z $COLLECTOR && -n $COLLECTOR_SCRIPT$OUT_DISK_MB$FIRST_SCRIPT ]]; then
    die "--collector-args, --collector-script, --collector-extra, --first-kernel-script, --out-disk-mb and --keep-vmcore need --collector"
fi
[[ -z $FIRST_SCRIPT || ( -f $FIRST_SCRIPT && -r $FIRST_SCRIPT ) ]] ||
    die "--first-kernel-script $FIRST_SCRIPT is not a readable file"
((COLLECTOR_ARGS_SET == 0)) || [[ -z $COLLECTOR_SCRIPT ]] ||
    die "--collector-args and --collector-script are two ways to say the same: give one"
[[ -z $OUT_DISK_MB || $OUT_DISK_MB =~ ^[1-9][0-9]*$ ]] || die "--out-disk-mb needs a positive number, not '$OUT_DISK_MB'"
[[ -z $COLLECTOR_SYSROOT || -n $COLLECTOR ]] || die "--sysroot needs --collector"
[[ $CAPTURE_CPUS =~ ^[1-9][0-9]*$ ]] || die "--capture-cpus needs a positive number, not '$CAPTURE_CPUS'"
[[ $CAPTURE_EXTRA != *"'"* ]] || die "--capture-append must not contain single quotes"

# --- profiles ------------------------------------------------------------------------------
# SOURCE: kdump (kexec -p, panic, capture kernel copies /proc/vmcore) or qemu-dump.
# Workload knobs as in make-vmcore.sh (cloud-1g sizes; more for the bigger 16K guest).
SOURCE=kdump
KEXEC_ARGS=
FIRST_EXTRA=
DATA_RANDOM_MB=32; DATA_B64_MB=24; DATA_TEXT_MB=16
SHM_RANDOM_MB=24; SHM_TEXT_MB=8; SHM_ZERO_MB=8
MEMHOGS="48:48:32"
SMP=2; CRASHKERNEL=256M
# -cpu max: every feature TCG has, so the 6.12 kernels run with 52-bit VA (LPA2/LVA).
# pauth-impdef: QEMU's cheap pointer-authentication hash instead of QARMA (a large TCG cost).
CPU=max,pauth-impdef=on
MACHINE=virt
case $PROFILE in
    trixie-arm64)
        SUITE=trixie; FLAVOUR=arm64; MEM_MB=1024 ;;
    trixie-arm64-va48)
        # The same kernel on a CPU without LPA2 (QEMU's lpa2=off): 48-bit VA with 4 levels
        # and the classic descriptor format, as on most arm64 hardware. With LPA2 (-cpu max)
        # it runs 52-bit VA/PA, 5 levels, LPA2 descriptors. (Booting the LPA2 CPU with
        # arm64.nolva instead: the capture kernel never printed a line after "Bye!".)
        SUITE=trixie; FLAVOUR=arm64; MEM_MB=1024; CPU=max,pauth-impdef=on,lpa2=off ;;
    trixie-arm64-16k)
        # 1536 MB: the 16K kernel's bigger page tables and struct pages, and a core that is
        # not a copy of the 4K one; a heavier, more varied workload.
        SUITE=trixie; FLAVOUR=arm64-16k; MEM_MB=1536
        DATA_RANDOM_MB=48; DATA_B64_MB=48; DATA_TEXT_MB=48
        SHM_RANDOM_MB=32; SHM_TEXT_MB=32; SHM_ZERO_MB=16
        MEMHOGS="32:64:64 16:64:0 0:0:64" ;;
    trixie-arm64-16k-va47)
        # The 16K kernel without LPA2: 47-bit VA, 3 levels (what makedumpfile 1.7.x reads).
        SUITE=trixie; FLAVOUR=arm64-16k; MEM_MB=1536; CPU=max,pauth-impdef=on,lpa2=off
        DATA_RANDOM_MB=48; DATA_B64_MB=48; DATA_TEXT_MB=48
        SHM_RANDOM_MB=32; SHM_TEXT_MB=32; SHM_ZERO_MB=16
        MEMHOGS="32:64:64 16:64:0 0:0:64" ;;
    bookworm-cloud-arm64)
        # kdump attempt for 6.1 (see Findings); crashkernel placed explicitly mid-RAM.
        SUITE=bookworm; FLAVOUR=cloud-arm64; MEM_MB=1024; CRASHKERNEL=${BOOKWORM_CRASHKERNEL:-256M@1408M}
        CPU=${BOOKWORM_CPU:-$CPU} ;;
    bookworm-cloud-arm64-qemudump)
        SUITE=bookworm; FLAVOUR=cloud-arm64; MEM_MB=1024; SOURCE=qemu-dump ;;
    *) die "unknown profile '$PROFILE' (trixie-arm64|trixie-arm64-va48|trixie-arm64-16k|trixie-arm64-16k-va47|bookworm-cloud-arm64-qemudump)" ;;
esac
[[ $SOURCE == kdump || -z $COLLECTOR ]] || die "--collector needs a kdump profile (no capture kernel in $PROFILE)"
QEMU_TIMEOUT=${QEMU_TIMEOUT:-1200}
# shellcheck disable=SC2034  # read by guest_conf (lib.sh)
SETTLE_SECONDS=3
# nr_cpus: as on x86_64; panic=1 with -no-reboot ends QEMU if the capture kernel dies.
CAPTURE_APPEND="console=ttyAMA0 irqpoll nr_cpus=$CAPTURE_CPUS reset_devices panic=1${CAPTURE_EXTRA:+ $CAPTURE_EXTRA}"
((CAPTURE_CPUS <= SMP)) || warn "--capture-cpus $CAPTURE_CPUS > $SMP guest vCPUs: the capture kernel gets at most $SMP"

VMCORE_DIR=$CACHE/vmcores/$PROFILE
VMCORE=$VMCORE_DIR/vmcore
if [[ -n $COLLECTOR ]]; then
    MODE=collector
    [[ -f $COLLECTOR && -x $COLLECTOR ]] || die "--collector $COLLECTOR is not an executable file"
    COLLECTOR=$(readlink -f "$COLLECTOR")
    if readelf -lW "$COLLECTOR" | grep -q 'Requesting program interpreter'; then
        [[ -d $COLLECTOR_SYSROOT ]] || die "--collector $COLLECTOR is dynamic: give --sysroot DIR with its libraries"
    fi
    readelf -hW "$COLLECTOR" | grep -q 'AArch64' || die "--collector $COLLECTOR is not an aarch64 ELF binary"
    if [[ -n $COLLECTOR_SCRIPT ]]; then
        [[ -f $COLLECTOR_SCRIPT && -r $COLLECTOR_SCRIPT ]] || die "--collector-script $COLLECTOR_SCRIPT is not a readable file"
    fi
    # EXTRA_NAME[i] EXTRA_BIN[i] EXTRA_SYSROOT[i]: the checked --collector-extra entries.
    EXTRA_NAME=() EXTRA_BIN=() EXTRA_SYSROOT=()
    for spec in "${COLLECTOR_EXTRAS[@]}"; do
        [[ $spec =~ ^([A-Za-z0-9_.-]+)=([^:]+)(:(.+))?$ ]] ||
            die "--collector-extra '$spec': want NAME=BIN[:SYSROOT] (NAME of letters, digits, _ . -)"
        name=${BASH_REMATCH[1]} bin=${BASH_REMATCH[2]} sysroot=${BASH_REMATCH[4]:-$COLLECTOR_SYSROOT}
        case $name in collector|busybox|sh|time|kexec) die "--collector-extra: /bin/$name is taken" ;; esac
        [[ " ${EXTRA_NAME[*]} " != *" $name "* ]] || die "--collector-extra: $name given twice"
        [[ -f $bin && -x $bin ]] || die "--collector-extra $name: $bin is not an executable file"
        readelf -hW "$bin" | grep -q 'AArch64' || die "--collector-extra $name: $bin is not an aarch64 ELF binary"
        if readelf -lW "$bin" | grep -q 'Requesting program interpreter'; then
            [[ -d $sysroot ]] || die "--collector-extra $name: $bin is dynamic: give NAME=BIN:SYSROOT or --sysroot"
        fi
        EXTRA_NAME+=("$name") EXTRA_BIN+=("$(readlink -f "$bin")") EXTRA_SYSROOT+=("${sysroot:-/nonexistent}")
    done
elif [[ $SOURCE == qemu-dump ]]; then
    MODE=first-kernel
else
    MODE=copy
fi
if [[ $MODE != collector && -s $VMCORE ]] && ((FORCE == 0)); then
    log "cached vmcore (use --force to regenerate)"
    if ((WITH_DBG)) && [[ ! -e $VMCORE_DIR/vmlinux ]]; then
        # Add the debug kernel beside the cached core; the core itself is not touched.
        KVER=$(cat "$VMCORE_DIR/osrelease")
        . "$SCRIPTS_DIR/guest-arm64/dbg-vmlinux.sh"
        dbg_vmlinux_into "$VMCORE_DIR"
    fi
    echo "$VMCORE"
    exit 0
fi

for c in apt-get apt-cache dpkg-deb qemu-system-aarch64 aarch64-linux-gnu-gcc readelf cpio gzip \
         xz mkfs.ext4 debugfs timeout truncate "$DEBIAN_PYTHON"; do
    need_cmd "$c" "run scripts/install-deps.sh --arm64"
done
need_cmd qemu-aarch64-static "run scripts/install-deps.sh --arm64 (lists busybox's applets)"

BUILD=$CACHE/build/$PROFILE
WORK=$BUILD/$MODE
mkdir -p "$BUILD" "$CACHE/build/bin-arm64" "$CACHE/kernels-arm64"
rm -rf "$WORK"; mkdir -p "$WORK"

# --- packages ------------------------------------------------------------------------------
arm64_apt_ready "$SUITE"
case $SUITE in
    trixie) KPKG=$(arm64_apt_cache trixie pkgnames linux-image-6.12 |
                   grep -E "^linux-image-6\.12\.[0-9]+\+deb13-$FLAVOUR\$" | sort -V | tail -n1) ;;
    bookworm) KPKG=$(arm64_apt_cache bookworm pkgnames linux-image-6.1.0- |
                     grep -E "^linux-image-6\.1\.0-[0-9]+-$FLAVOUR\$" | sort -V | tail -n1) ;;
esac
[[ -n $KPKG ]] || die "no $FLAVOUR kernel package in Debian $SUITE (arm64)"
KVER=${KPKG#linux-image-}
kdeb=$(arm64_deb "$SUITE" "$KPKG")
KROOT=$CACHE/kernels-arm64/$(basename "$kdeb" .deb)
if [[ ! -e $KROOT/.extracted ]]; then
    log "dpkg-deb -x $(basename "$kdeb")"
    rm -rf "$KROOT"; dpkg-deb -x "$kdeb" "$KROOT"; touch "$KROOT/.extracted"
fi
VMLINUZ=$KROOT/boot/vmlinuz-$KVER
MODDIR=$KROOT/lib/modules/$KVER
[[ -d $MODDIR ]] || MODDIR=$KROOT/usr/lib/modules/$KVER
need_file "$VMLINUZ"
need_file "$MODDIR/modules.builtin"

# Userland for the guest, from the same suite as the kernel: static busybox, kexec-tools
# 2.0.29 from trixie for every kernel (bookworm's 2.0.25 made no difference, arm64.md) and
# GNU time for collector mode. kexec's library closure (apt-cache depends --recurse).
GUEST_SYSROOT=$(arm64_sysroot guest-trixie trixie busybox-static kexec-tools time libc6 zlib1g \
    libgcc-s1 libxenmisc4.20 libxencall1 libxendevicemodel1 libxenevtchn1 libxenforeignmemory1 \
    libxengnttab1 libxenhypfs1 libxenstore4 libxentoolcore1 libxentoollog1 libyajl2 \
    libext2fs2t64 libfdt1 libuuid1)
BUSYBOX=$GUEST_SYSROOT/usr/bin/busybox
[[ -x $BUSYBOX ]] || BUSYBOX=$GUEST_SYSROOT/bin/busybox
need_file "$BUSYBOX"

# --- modules ---------------------------------------------------------------------------------
# virtio_pci + virtio_blk: the disks. qemu_fw_cfg: VMCOREINFO for -device vmcoreinfo.
# ext4 and crc32c (a softdep of ext4's metadata_csum, not in depends=).
kmods_index "$MODDIR"
kmods_resolve virtio_pci virtio_blk qemu_fw_cfg ext4
[[ -n ${KMOD_BUILTIN[crc32c_generic]:-} || -z ${KMOD_FILE[crc32c_generic]:-} ]] || kmods_resolve crc32c_generic
log "modules ($KVER): ${KMOD_ORDER[*]:-(all built in)}"

# --- workload tool ---------------------------------------------------------------------------
MEMHOG=$CACHE/build/bin-arm64/memhog
if [[ ! -x $MEMHOG || $SCRIPTS_DIR/guest/memhog.c -nt $MEMHOG ]]; then
    aarch64-linux-gnu-gcc -O2 -static -Wall -Wextra -o "$MEMHOG.tmp" "$SCRIPTS_DIR/guest/memhog.c" ||
        die "aarch64-linux-gnu-gcc -static memhog.c failed (libc6-dev-arm64-cross?)"
    mv "$MEMHOG.tmp" "$MEMHOG"
fi

# --- capture initramfs (also the base of the first kernel's image) --------------------------
# Kept small (busybox, modules, /init; the collector only in collector mode): a 33 MB capture
# initrd stopped at "No working init found" inside crashkernel=256M (arm64.md).
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,sbin,etc,proc,sys,dev,lib/modules,usr/bin,usr/sbin,tmp}
install -m 0755 "$BUSYBOX" "$ROOT/bin/busybox"
for applet in $(qemu-aarch64-static "$BUSYBOX" --list); do
    [[ $applet == busybox ]] && continue   # a self-link makes /init fail with ELOOP
    ln -sf busybox "$ROOT/bin/$applet"
done
for m in "${KMOD_ORDER[@]}"; do kmods_cat "${KMOD_FILE[$m]}" >"$ROOT/lib/modules/$m.ko"; done
install -m 0755 "$SCRIPTS_DIR/guest/init.sh" "$ROOT/init"

# shellcheck disable=SC2034  # set by collector_script, read by collector_result (lib.sh)
COLLECTOR_CMD=
if [[ $MODE == collector ]]; then
    # Order matters: the first binary to install a library name wins it (see the usage).
    arm64_copy_with_libs "$COLLECTOR" "${COLLECTOR_SYSROOT:-/nonexistent}" "$ROOT" /bin/collector
    for i in "${!EXTRA_NAME[@]}"; do
        arm64_copy_with_libs "${EXTRA_BIN[i]}" "${EXTRA_SYSROOT[i]}" "$ROOT" "/bin/${EXTRA_NAME[i]}"
        log "extra binary /bin/${EXTRA_NAME[i]}: ${EXTRA_BIN[i]}"
    done
    arm64_copy_with_libs "$GUEST_SYSROOT/usr/bin/time" "$GUEST_SYSROOT" "$ROOT" /usr/bin/time
    if [[ -n $COLLECTOR_SCRIPT ]]; then
        COLLECTOR_CMD="sh $COLLECTOR_SCRIPT (as /etc/collector.sh)"
        { printf '#!/bin/sh\nset -o pipefail\ncd /out\n'; cat "$COLLECTOR_SCRIPT"; } >"$ROOT/etc/collector.sh"
        log "collector command: $COLLECTOR_CMD"
    else
        collector_script "$ROOT" "$COLLECTOR_ARGS"
    fi
fi

# KEXEC_ARGS for guest-arm64/kexec-crash.sh; LD_LIBRARY_PATH for the dynamic aarch64 tools.
# With --first-kernel-script the guest runs it first (init.sh's first-then-collector mode);
# the host's MODE stays collector, the rest of the flow is the same.
if [[ -n $FIRST_SCRIPT ]]; then
    MODE=first-then-collector guest_conf "$ROOT" "KEXEC_ARGS='$KEXEC_ARGS'" "export LD_LIBRARY_PATH=/lib/aarch64-linux-gnu:/lib"
else
    guest_conf "$ROOT" "KEXEC_ARGS='$KEXEC_ARGS'" "export LD_LIBRARY_PATH=/lib/aarch64-linux-gnu:/lib"
fi
mkcpio "$ROOT" >"$WORK/capture.cpio.gz"

# First kernel = capture image + kernel, capture image, memhog, kexec (and its libraries).
EXTRA=$WORK/extra
mkdir -p "$EXTRA/bin"
install -m 0644 "$VMLINUZ" "$EXTRA/vmlinuz"
install -m 0644 "$WORK/capture.cpio.gz" "$EXTRA/initrd.img"
install -m 0755 "$MEMHOG" "$EXTRA/bin/memhog"
install -m 0755 "$SCRIPTS_DIR/guest-arm64/kexec-crash.sh" "$EXTRA/bin/kexec-crash"
arm64_copy_with_libs "$GUEST_SYSROOT/usr/sbin/kexec" "$GUEST_SYSROOT" "$EXTRA" /usr/sbin/kexec
if [[ $MODE == first-kernel ]]; then
    install -D -m 0644 "$SCRIPTS_DIR/guest-arm64/qemu-dump-wait.sh" "$EXTRA/etc/first-kernel.sh"
elif [[ -n $FIRST_SCRIPT ]]; then
    install -D -m 0644 "$FIRST_SCRIPT" "$EXTRA/etc/first-kernel.sh"
fi
cat "$WORK/capture.cpio.gz" <(mkcpio "$EXTRA") >"$WORK/initrd.gz"
log "initramfs: capture $(du -h "$WORK/capture.cpio.gz" | cut -f1), first $(du -h "$WORK/initrd.gz" | cut -f1)"

# --- disks -----------------------------------------------------------------------------------
DATA_IMG=$BUILD/data.img
[[ -s $DATA_IMG ]] || build_data_disk "$DATA_IMG" "$DATA_RANDOM_MB" "$DATA_B64_MB" "$DATA_TEXT_MB"
OUT_IMG=$WORK/out.img
truncate -s "${OUT_DISK_MB:-$(((1 + KEEP_VMCORE) * MEM_MB + 512))}M" "$OUT_IMG"
[[ $MODE == copy ]] || mkfs.ext4 -q -F -L mkvmcore-out "$OUT_IMG"

# --- boot ------------------------------------------------------------------------------------
if [[ $MODE == collector ]]; then
    RESULT_DIR=$CACHE/collector-out/$PROFILE
    rm -rf "$RESULT_DIR"; mkdir -p "$RESULT_DIR"; SERIAL=$RESULT_DIR/serial.log
else
    SERIAL=$WORK/serial.log
fi
: >"$SERIAL"
QMP=$WORK/qmp.sock
# shellcheck disable=SC2054  # the commas are QEMU's -device/-drive syntax
QEMU=(qemu-system-aarch64 -M "$MACHINE" -cpu "$CPU" -accel tcg -smp "$SMP" -m "$MEM_MB"
      -nodefaults -display none -no-reboot -device vmcoreinfo -serial "file:$SERIAL"
      -kernel "$VMLINUZ" -initrd "$WORK/initrd.gz"
      -append "console=ttyAMA0 crashkernel=$CRASHKERNEL panic=1 quiet${FIRST_EXTRA:+ $FIRST_EXTRA}"
      -drive "file=$DATA_IMG,if=none,id=data,format=raw,readonly=on" -device virtio-blk-pci,drive=data
      -drive "file=$OUT_IMG,if=none,id=out,format=raw" -device virtio-blk-pci,drive=out
      -qmp "unix:$QMP,server=on,wait=off")
log "booting $KVER ($MEM_MB MB, -smp $SMP, -cpu $CPU, crashkernel=$CRASHKERNEL, mode $MODE, source $SOURCE); serial: $SERIAL"
t0=$(date +%s)
qrc=0
if [[ $SOURCE == qemu-dump ]]; then
    "${QEMU[@]}" </dev/null >&2 &
    qpid=$!
    # Wait for the guest's READY_FOR_DUMP, then dump it through QMP and quit.
    for ((i = 0; ; i++)); do
        grep -aq '^@@MKV READY_FOR_DUMP' "$SERIAL" && break
        grep -aq '^@@MKV FAIL' "$SERIAL" && break
        kill -0 "$qpid" 2>/dev/null || break
        ((i < QEMU_TIMEOUT)) || break
        sleep 1
    done
    if grep -aq '^@@MKV READY_FOR_DUMP' "$SERIAL"; then
        log "guest ready: QMP dump-guest-memory"
        "$DEBIAN_PYTHON" "$SCRIPTS_DIR/guest-arm64/qmp-dump.py" "$QMP" "$WORK/dump.elf" >&2 || qrc=$?
    else
        qrc=1
    fi
    kill "$qpid" 2>/dev/null || true
    wait "$qpid" 2>/dev/null || true
else
    timeout "$QEMU_TIMEOUT" "${QEMU[@]}" </dev/null >&2 || qrc=$?
fi
t1=$(date +%s)
grep -a '^@@MKV' "$SERIAL" | sed 's/^/  guest: /' >&2 || true

failed() {
    warn "$1"
    echo "----- tail of $SERIAL -----" >&2
    tail -n 60 "$SERIAL" >&2
    exit 1
}
((qrc == 124)) && failed "QEMU timed out after ${QEMU_TIMEOUT}s"
((qrc == 0)) || failed "QEMU (or the QMP dump) exited with status $qrc"
grep -aq '^@@MKV FAIL' "$SERIAL" && failed "guest reported a failure"

if [[ $SOURCE == kdump ]]; then
    grep -aq '^@@MKV CAPTURE_KERNEL' "$SERIAL" || failed "capture kernel never started"
    size=$(grep -a -m1 '^@@MKV VMCORE_SIZE' "$SERIAL" | awk '{print $3}' | tr -d '\r')
    [[ $size =~ ^[0-9]+$ ]] || failed "no VMCORE_SIZE in serial log"
    log "QEMU run took $((t1 - t0)) s; /proc/vmcore was $size bytes"
fi

if [[ $MODE == collector ]]; then
    crc=$(grep -a -m1 '^@@MKV COLLECTOR_DONE' "$SERIAL" | sed 's/.*rc=//' | tr -d '\r')
    [[ $crc =~ ^[0-9]+$ ]] || failed "collector did not report completion"
    extract_out_disk "$OUT_IMG" "$RESULT_DIR"
    collector_result "$PROFILE ($KVER, ${MEM_MB} MB, crashkernel=$CRASHKERNEL, aarch64 TCG)" \
        "$COLLECTOR${COLLECTOR_SYSROOT:+ (libraries from $COLLECTOR_SYSROOT)}" "$crc" "$size" \
        >"$RESULT_DIR/result.txt"
    for i in "${!EXTRA_NAME[@]}"; do
        echo "extra:        /bin/${EXTRA_NAME[i]} = ${EXTRA_BIN[i]}"
    done >>"$RESULT_DIR/result.txt"
    cat "$RESULT_DIR/result.txt" >&2
    ls -l "$RESULT_DIR" >&2
    rm -rf "$WORK"
    ((crc == 0)) || { warn "collector exited with $crc (see $RESULT_DIR/collector.log)"; echo "$RESULT_DIR"; exit 1; }
    echo "$RESULT_DIR"
    exit 0
fi

# --- copy mode / qemu dump: the core and its companions, moved in atomically ----------------
if [[ $SOURCE == kdump ]]; then
    rc=$(grep -a -m1 '^@@MKV COPY_DONE' "$SERIAL" | sed 's/.*rc=//' | tr -d '\r')
    [[ $rc == 0 ]] || failed "dd in the capture kernel failed (rc=${rc:-none})"
    truncate -s "$size" "$OUT_IMG"
    CORE=$OUT_IMG
    SOURCE_TEXT="kdump: /proc/vmcore of the capture kernel (kexec -p, sysrq-c panic), copied raw by dd"
else
    CORE=$WORK/dump.elf
    [[ -s $CORE ]] || failed "QMP dump-guest-memory produced no file"
    size=$(stat -c %s "$CORE")
    SOURCE_TEXT="qemu dump-guest-memory (QMP, paging=false) of the LIVE first kernel with -device vmcoreinfo; NOT a kdump /proc/vmcore"
fi
[[ $(head -c 4 "$CORE" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]] || failed "the core does not start with the ELF magic"
STAGE=$VMCORE_DIR.tmp.$$
rm -rf "$STAGE"; mkdir -p "$STAGE"
mv "$CORE" "$STAGE/vmcore"
mv "$SERIAL" "$STAGE/serial.log"
elf_vmcoreinfo "$STAGE/vmcore" >"$STAGE/vmcoreinfo.txt" || failed "no VMCOREINFO in the core"
sed -n 's/^OSRELEASE=//p' "$STAGE/vmcoreinfo.txt" >"$STAGE/osrelease"
[[ $(cat "$STAGE/osrelease") == "$KVER" ]] || failed "core's OSRELEASE $(cat "$STAGE/osrelease") is not $KVER"
cp "$KROOT/boot/config-$KVER" "$STAGE/config"
{
    echo "profile:      $PROFILE"
    echo "source:       $SOURCE_TEXT"
    echo "kernel:       $KVER ($(basename "$kdeb"))"
    echo "page size:    $(sed -n 's/^PAGESIZE=//p' "$STAGE/vmcoreinfo.txt")"
    echo "VA_BITS:      $(sed -n 's/^NUMBER(VA_BITS)=//p' "$STAGE/vmcoreinfo.txt"), TCR_EL1_T1SZ=$(sed -n 's/^NUMBER(TCR_EL1_T1SZ)=//p' "$STAGE/vmcoreinfo.txt")"
    echo "guest:        qemu-system-aarch64 -M $MACHINE -cpu $CPU (TCG), ${MEM_MB} MB, -smp $SMP, crashkernel=$CRASHKERNEL"
    echo "first kernel: console=ttyAMA0 crashkernel=$CRASHKERNEL panic=1 quiet${FIRST_EXTRA:+ $FIRST_EXTRA}"
    if [[ $SOURCE == kdump ]]; then
        echo "kexec:        kexec-tools 2.0.29 (trixie arm64), kexec -p ${KEXEC_ARGS:-(no extra options)}"
        grep -a -m1 '^@@MKV KALLSYMS_TEXT_ADDED' "$STAGE/serial.log" | tr -d '\r' |
            sed 's/^@@MKV KALLSYMS_TEXT_ADDED/kexec saw:    \/proc\/kallsyms + "_text" line (kernel lists none):/' || true
        echo "capture:      $CAPTURE_APPEND"
    fi
    echo "workload:     data ${DATA_RANDOM_MB}+${DATA_B64_MB}+${DATA_TEXT_MB} MB (random+b64+text), shm ${SHM_RANDOM_MB}+${SHM_TEXT_MB}+${SHM_ZERO_MB} MB, memhogs $MEMHOGS"
    echo "size:         $size bytes"
    echo "created:      $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "qemu seconds: $((t1 - t0))"
    grep -a -m1 '^@@MKV WORKLOAD_DONE' "$STAGE/serial.log" | sed 's/^@@MKV WORKLOAD_DONE/first-kernel meminfo:/' | tr -d '\r'
    readelf -lW "$STAGE/vmcore" | sed -n '/Program Headers/,$p'
} >"$STAGE/info.txt"
if ((WITH_DBG)); then
    . "$SCRIPTS_DIR/guest-arm64/dbg-vmlinux.sh"
    dbg_vmlinux_into "$STAGE"
fi
# Swap the directory in whole: readers never see a new vmcore with old companions.
if [[ -d $VMCORE_DIR ]]; then
    # Keep the vmlinux of an earlier --with-dbg run when this one has none (same kernel).
    for f in vmlinux System.map; do
        if [[ ! -e $STAGE/$f && -e $VMCORE_DIR/$f ]] &&
            grep -q "^kernel:       $KVER " "$VMCORE_DIR/info.txt" 2>/dev/null; then
            mv "$VMCORE_DIR/$f" "$STAGE/$f"
        fi
    done
    mv "$VMCORE_DIR" "$VMCORE_DIR.old.$$"
fi
mv "$STAGE" "$VMCORE_DIR"
rm -rf "$VMCORE_DIR.old.$$" "$WORK"
log "vmcore: $VMCORE ($size bytes); info: $VMCORE_DIR/info.txt"
echo "$VMCORE"
