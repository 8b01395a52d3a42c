#!/usr/bin/env bash
# Make a REAL /proc/vmcore: boot a Debian kernel under QEMU (TCG), build a workload, arm a
# capture kernel with kexec_file_load, panic, and save /proc/vmcore from the capture kernel.
# Recipe and pitfalls: /work/shared/docs/real-vmcore.md.
#
# Usage:
#   scripts/make-vmcore.sh [--profile cloud-1g|generic-2g] [--force]
#       Default ("copy") mode. The capture kernel dd's /proc/vmcore to a raw disk; the host
#       cuts the disk image to the printed size. Result (ELF64 core):
#         $CACHE/vmcores/<profile>/vmcore   (+ info.txt, serial.log)
#       Cached: if the vmcore exists and --force is not given, only its path is printed.
#
#   scripts/make-vmcore.sh [--profile P] --collector BIN [--collector-args "ARGS"]
#       Collector mode: BIN (static, or dynamic: the libraries ldd lists are copied too) is
#       installed as /bin/collector in the capture initramfs and run against /proc/vmcore,
#       inside the capture kernel (~190 MB free, as in production), with its output on an
#       ext4 disk mounted at /out. ARGS is shell text:
#         - "{vmcore}" is replaced by /proc/vmcore and "{out}" by /out;
#         - if ARGS then mentions /proc/vmcore it is a full command tail and is run as
#               collector ARGS            (pipes allowed, e.g.
#               --collector-args '-F -c -d 31 /proc/vmcore | cat > /out/dump')
#           (the script runs with `set -o pipefail`, so a failing collector in a pipe counts);
#         - otherwise the command is   collector ARGS /proc/vmcore /out/dump
#       It runs under GNU time -v (max RSS, elapsed). Every regular file in /out is extracted
#       with debugfs into $CACHE/collector-out/<profile>/, together with collector.log,
#       time.txt, result.txt (exit code, max RSS, elapsed) and serial.log.
#       --keep-vmcore: also copy /proc/vmcore to /out/vmcore afterwards, so the collector's
#       output can be checked page by page against its own source (each boot gives a
#       different core, so the cached copy-mode vmcore is not the collector's input):
#         /usr/bin/python3 scripts/kdump-pages-check.py OUT/vmcore OUT/dump
#       If the collector itself left a file called vmcore (Fedora's `mv vmcore-incomplete
#       vmcore`), the copy is called source-vmcore instead; result.txt's "source core:"
#       line names the file either way.
#       --capture-cpus N: boot the capture kernel with nr_cpus=N instead of nr_cpus=1 (the
#       guest has 2 vCPUs; N=2 is the "--num-threads 2 in a 2-CPU capture kernel" case).
#       --capture-append "ARGS": more capture-kernel command-line arguments.
#       result.txt records the capture kernel's command line and online CPU count.
#       Never cached. Exit status is non-zero if the collector failed.
#       Example (Debian's makedumpfile, dynamically linked):
#         scripts/make-vmcore.sh --collector /usr/bin/makedumpfile \
#             --collector-args '-l --message-level 7 -d 31'
#
#   scripts/make-vmcore.sh [--profile P] --first-kernel SCRIPT [--install HOSTBIN:/guest/path]...
#       First-kernel mode, for tools that run on a LIVE kernel (makedumpfile --mem-usage
#       /proc/kcore needs the VMCOREINFO note of /proc/kcore and "Crash kernel" in
#       /proc/iomem; the guest boots with crashkernel=256M). Same image, boot and workload
#       as the other modes, so memory looks like the vmcore's; but instead of arming kexec
#       and panicking, the first kernel runs SCRIPT (a host shell script, copied into the
#       guest) with busybox sh -o pipefail, in /out, the ext4 output disk, with stdin from
#       /dev/null and stdout/stderr to /out/first.log; then it syncs, unmounts /out and
#       powers off. Each --install copies HOSTBIN (with the libraries ldd lists) to
#       /guest/path in the first kernel's image (HOSTBIN alone installs as /bin/NAME);
#       /usr/bin/time (GNU time -v) is always installed. Every regular file at the top of
#       /out is extracted into $CACHE/first-kernel-out/<profile>/, with result.txt (exit
#       code, kernel, memory) and serial.log. Never cached; exit status is non-zero if
#       SCRIPT failed. Example (tests/mem-usage.sh does this for two binaries):
#         printf 'makedumpfile --mem-usage /proc/kcore >usage.txt\n' >/tmp/s.sh
#         scripts/make-vmcore.sh --first-kernel /tmp/s.sh --install /usr/bin/makedumpfile
#
#   scripts/make-vmcore.sh [--profile P] --first-kernel SCRIPT [--install ...]
#                          --collector BIN (--collector-args "ARGS" | --collector-script FILE)
#       First-kernel-then-collector mode: ONE boot for a prediction made on the live kernel
#       and the dump that the capture kernel makes of the same memory right after. The
#       first kernel runs SCRIPT as in first-kernel mode (its files stay on the output
#       disk), then arms kexec and panics instead of powering off; the capture kernel runs
#       the collector as in collector mode (--keep-vmcore, --capture-cpus and
#       --capture-append apply), on the same output disk. Every file of both lands in
#       $CACHE/first-then-collector-out/<profile>/, with result.txt (both exit codes),
#       first.log, collector.log, time.txt and serial.log. Exit status is non-zero if
#       either failed.
#       --collector-script FILE (this mode and collector mode): instead of one collector
#       command, the capture kernel runs FILE (busybox sh -o pipefail, in /out), with BIN
#       installed as /bin/collector; e.g. several dumps one after another, each measured
#       and deleted to fit the output disk (tests/size-estimate.sh). The first kernel's
#       image holds /bin/collector too, so SCRIPT can run BIN without --install.
#
# The last line of stdout is always the result path (vmcore file, collector-out,
# first-kernel-out or first-then-collector-out dir).
# Environment: MAKEDUMPFILE_RS_CACHE (cache dir), QEMU_TIMEOUT (seconds, default 900).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PROFILE=cloud-1g
FORCE=0
COLLECTOR=
COLLECTOR_ARGS=
COLLECTOR_ARGS_SET=0
COLLECTOR_SCRIPT=
KEEP_VMCORE=0
CAPTURE_CPUS=1
CAPTURE_EXTRA=
FIRST_SCRIPT=
INSTALLS=()
while (($#)); do
    case $1 in
        --profile) PROFILE=${2:?--profile needs a value}; shift 2 ;;
        --profile=*) PROFILE=${1#*=}; shift ;;
        --force) FORCE=1; shift ;;
        --keep-vmcore) KEEP_VMCORE=1; shift ;;
        --capture-cpus) CAPTURE_CPUS=${2:?--capture-cpus needs a number}; shift 2 ;;
        --capture-cpus=*) CAPTURE_CPUS=${1#*=}; shift ;;
        --capture-append) CAPTURE_EXTRA=${2?--capture-append needs a value}; shift 2 ;;
        --capture-append=*) CAPTURE_EXTRA=${1#*=}; shift ;;
        --collector) COLLECTOR=${2:?--collector needs a path}; shift 2 ;;
        --collector=*) COLLECTOR=${1#*=}; shift ;;
        --collector-args) COLLECTOR_ARGS=${2?--collector-args needs a value}; COLLECTOR_ARGS_SET=1; shift 2 ;;
        --collector-args=*) COLLECTOR_ARGS=${1#*=}; COLLECTOR_ARGS_SET=1; shift ;;
        --collector-script) COLLECTOR_SCRIPT=${2:?--collector-script needs a file}; shift 2 ;;
        --collector-script=*) COLLECTOR_SCRIPT=${1#*=}; shift ;;
        --first-kernel) FIRST_SCRIPT=${2:?--first-kernel needs a script}; shift 2 ;;
        --first-kernel=*) FIRST_SCRIPT=${1#*=}; shift ;;
        --install) INSTALLS+=("${2:?--install needs HOSTBIN[:/guest/path]}"); shift 2 ;;
        --install=*) INSTALLS+=("${1#*=}"); shift ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
if [[ -z $COLLECTOR ]] && ((COLLECTOR_ARGS_SET)); then
    die "--collector-args needs --collector"
fi
if [[ -z $COLLECTOR && -n $COLLECTOR_SCRIPT ]]; then
    die "--collector-script needs --collector"
fi
if ((COLLECTOR_ARGS_SET)) && [[ -n $COLLECTOR_SCRIPT ]]; then
    die "--collector-args and --collector-script are two ways to say the same: give one"
fi
if [[ -z $COLLECTOR ]] && ((KEEP_VMCORE)); then
    die "--keep-vmcore only applies to --collector mode"
fi
if [[ -z $FIRST_SCRIPT ]] && ((${#INSTALLS[@]})); then
    die "--install only applies to --first-kernel mode"
fi
[[ $CAPTURE_CPUS =~ ^[1-9][0-9]*$ ]] || die "--capture-cpus needs a positive number, not '$CAPTURE_CPUS'"
[[ $CAPTURE_EXTRA != *"'"* ]] || die "--capture-append must not contain single quotes"

# --- profiles ------------------------------------------------------------------------------
# MEMHOGS: one anonymous-memory process per RANDOM:PATTERN:ZERO (MB) triple (guest/memhog.c).
# DATA_*: files on the data disk, read into the page cache by the first kernel.
case $PROFILE in
    cloud-1g)
        # All virtio drivers are plain .ko modules; ext4 and crc32c are built in.
        FLAVOUR=cloud-amd64; MEM_MB=1024; SMP=2; CRASHKERNEL=256M
        DATA_RANDOM_MB=32; DATA_B64_MB=24; DATA_TEXT_MB=16
        SHM_RANDOM_MB=24; SHM_TEXT_MB=8; SHM_ZERO_MB=8
        MEMHOGS="48:48:32"
        ;;
    generic-2g)
        # Generic flavour: ext4 (and its crc32c/jbd2/mbcache/crc16 deps) are modules here.
        # Heavier page cache and shmem, several smaller anonymous processes, more zero pages.
        FLAVOUR=amd64; MEM_MB=2048; SMP=2; CRASHKERNEL=256M
        DATA_RANDOM_MB=64; DATA_B64_MB=96; DATA_TEXT_MB=96
        SHM_RANDOM_MB=48; SHM_TEXT_MB=64; SHM_ZERO_MB=32
        MEMHOGS="32:64:64 32:64:64 16:128:0 0:0:128"
        ;;
    *) die "unknown profile '$PROFILE' (cloud-1g|generic-2g)" ;;
esac
KPKG=linux-image-$KERNEL_ABI-$FLAVOUR
KVER=$KERNEL_ABI-$FLAVOUR
SETTLE_SECONDS=3
QEMU_TIMEOUT=${QEMU_TIMEOUT:-900}
# Capture cmdline from real-vmcore.md; panic=1 so a failing capture kernel ends QEMU
# (-no-reboot) instead of waiting for the timeout. The kernel appends elfcorehdr= itself.
# --capture-cpus changes nr_cpus (the guest has $SMP vCPUs); --capture-append adds more.
CAPTURE_APPEND="console=ttyS0 irqpoll nr_cpus=$CAPTURE_CPUS reset_devices panic=1${CAPTURE_EXTRA:+ $CAPTURE_EXTRA}"
((CAPTURE_CPUS <= SMP)) || warn "--capture-cpus $CAPTURE_CPUS > $SMP guest vCPUs: the capture kernel gets at most $SMP"

VMCORE_DIR=$CACHE/vmcores/$PROFILE
VMCORE=$VMCORE_DIR/vmcore
INSTALL_SRC=() INSTALL_DEST=()
if [[ -n $FIRST_SCRIPT ]]; then
    MODE=first-kernel
    [[ -n $COLLECTOR ]] && MODE=first-then-collector
    [[ -f $FIRST_SCRIPT && -r $FIRST_SCRIPT ]] || die "--first-kernel $FIRST_SCRIPT is not a readable file"
    FIRST_SCRIPT=$(readlink -f "$FIRST_SCRIPT")
    for spec in "${INSTALLS[@]}"; do
        # Split at the last colon: the guest path is absolute and has none.
        if [[ $spec == *:* ]]; then src=${spec%:*} dest=${spec##*:}; else src=$spec dest=/bin/$(basename "$spec"); fi
        [[ -f $src && -x $src ]] || die "--install $spec: $src is not an executable file"
        [[ $dest == /?* ]] || die "--install $spec: the guest path must be absolute"
        INSTALL_SRC+=("$(readlink -f "$src")"); INSTALL_DEST+=("$dest")
    done
elif [[ -z $COLLECTOR ]]; then
    MODE=copy
    if [[ -s $VMCORE ]] && ((FORCE == 0)); then
        log "cached vmcore (use --force to regenerate)"
        echo "$VMCORE"
        exit 0
    fi
else
    MODE=collector
fi
if [[ -n $COLLECTOR ]]; then
    [[ -f $COLLECTOR && -x $COLLECTOR ]] || die "--collector $COLLECTOR is not an executable file"
    COLLECTOR=$(readlink -f "$COLLECTOR")
    if [[ -n $COLLECTOR_SCRIPT ]]; then
        [[ -f $COLLECTOR_SCRIPT && -r $COLLECTOR_SCRIPT ]] || die "--collector-script $COLLECTOR_SCRIPT is not a readable file"
        COLLECTOR_SCRIPT=$(readlink -f "$COLLECTOR_SCRIPT")
    fi
fi
# The capture kernel runs a collector in these modes, the first kernel a script in these.
has_collector() { [[ $MODE == collector || $MODE == first-then-collector ]]; }
has_first_script() { [[ $MODE == first-kernel || $MODE == first-then-collector ]]; }

for c in apt-get dpkg dpkg-deb qemu-system-x86_64 cpio gzip mkfs.ext4 debugfs gcc xz timeout \
         find ldd truncate; do
    need_cmd "$c"
done
need_file /bin/busybox "apt-get install busybox-static"
file_is_static() { ! ldd "$1" >/dev/null 2>&1; }
file_is_static /bin/busybox || die "/bin/busybox is not static (install busybox-static)"
if [[ $MODE != copy ]]; then need_file /usr/bin/time "apt-get install time"; fi

BUILD=$CACHE/build/$PROFILE
WORK=$BUILD/$MODE
mkdir -p "$CACHE/debs" "$CACHE/kernels" "$BUILD" "$CACHE/build/bin"
rm -rf "$WORK"
mkdir -p "$WORK"

# --- kernel package ------------------------------------------------------------------------
deb=$(cached_deb "$KPKG")
if [[ -z $deb ]]; then
    log "apt-get download $KPKG"
    (cd "$CACHE/debs" && apt-get download "$KPKG") >&2 ||
        die "apt-get download $KPKG failed (apt-get update? network to deb.debian.org?)"
    deb=$(cached_deb "$KPKG")
    [[ -n $deb ]] || die "apt-get download $KPKG produced no .deb"
fi
KROOT=$CACHE/kernels/$(basename "$deb" .deb)
if [[ ! -e $KROOT/.extracted ]]; then
    log "dpkg -x $(basename "$deb")"
    rm -rf "$KROOT"
    dpkg -x "$deb" "$KROOT"
    touch "$KROOT/.extracted"
fi
VMLINUZ=$KROOT/boot/vmlinuz-$KVER
MODDIR=$KROOT/lib/modules/$KVER
need_file "$VMLINUZ"
need_file "$MODDIR/modules.builtin"

# --- modules: resolve dependency order from modinfo "depends=" ----------------------------
# The debs carry no modules.dep (depmod runs at install time) and the host may lack kmod,
# so read the .modinfo strings ourselves. Some flavours ship .ko.xz: decompress (pitfall).
declare -A MODFILE=() BUILTIN=() SEEN=()
while IFS= read -r f; do
    n=$(basename "$f"); n=${n%.xz}; n=${n%.ko}; MODFILE[${n//-/_}]=$f
done < <(find "$MODDIR/kernel" -name '*.ko' -o -name '*.ko.xz')
while IFS= read -r f; do
    n=$(basename "$f"); n=${n%.ko}; BUILTIN[${n//-/_}]=1
done <"$MODDIR/modules.builtin"
ko_cat() { case $1 in *.xz) xz -dc "$1" ;; *) cat "$1" ;; esac; }
MOD_ORDER=()
resolve_mod() {
    local name=${1//-/_} deps d
    [[ -n ${SEEN[$name]:-} ]] && return 0
    SEEN[$name]=1
    [[ -n ${BUILTIN[$name]:-} ]] && return 0
    [[ -n ${MODFILE[$name]:-} ]] || die "module $name: neither built in nor shipped in $KPKG"
    deps=$(ko_cat "${MODFILE[$name]}" | tr '\0' '\n' | grep -a -m1 '^depends=' | cut -d= -f2 || true)
    for d in ${deps//,/ }; do resolve_mod "$d"; done
    MOD_ORDER+=("$name")
}
# virtio_pci + virtio_blk: the disks. qemu_fw_cfg: VMCOREINFO via -device vmcoreinfo.
# ext4: data and output disks. crc32c: ext4 metadata_csum (a softdep, not in depends=;
# without it the mount fails with "Cannot load crc32c driver" when crc32c is modular).
for m in virtio_pci virtio_blk qemu_fw_cfg ext4; do resolve_mod "$m"; done
if [[ -z ${BUILTIN[crc32c_generic]:-} && -n ${MODFILE[crc32c_generic]:-} ]]; then
    resolve_mod crc32c_generic
fi
log "modules ($KVER): ${MOD_ORDER[*]:-(all built in)}"

# --- static helpers ------------------------------------------------------------------------
build_static() {  # SRC OUT
    if [[ ! -x $2 || $1 -nt $2 ]]; then
        gcc -O2 -static -Wall -Wextra -o "$2.tmp" "$1" || die "gcc -static $1 failed (libc6-dev?)"
        mv "$2.tmp" "$2"
    fi
}
build_static "$SCRIPTS_DIR/guest/kexec-crash.c" "$CACHE/build/bin/kexec-crash"
build_static "$SCRIPTS_DIR/guest/memhog.c" "$CACHE/build/bin/memhog"

# copy_with_libs BIN ROOT DEST: a dynamic binary plus every library ldd lists, at the same
# absolute paths (the ELF interpreter path /lib64/ld-linux-x86-64.so.2 is hard-coded).
copy_with_libs() {
    local bin=$1 root=$2 dest=$3 lib
    install -D -m 0755 "$bin" "$root$dest"
    file_is_static "$bin" && return 0
    while IFS= read -r lib; do
        [[ -e $root$lib ]] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
    done < <(ldd "$bin" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }')
    # glibc dlopen()s libgcc_s.so.1 to unwind in pthread_exit/pthread_cancel, so ldd does
    # not list it: without it Debian's makedumpfile --num-threads 2 aborted in the capture
    # kernel ("libgcc_s.so.1 must be installed for pthread_exit to work", exit 134).
    # Distribution initramfs generators (dracut, initramfs-tools) add it for this reason.
    # (awk reads to the end: an early exit would SIGPIPE ldconfig and fail under pipefail.)
    lib=$(ldconfig -p 2>/dev/null | awk '!p && $1 == "libgcc_s.so.1" && /x86-64/ { p = $NF } END { print p }' || true)
    if [[ -z $lib && -e /lib/x86_64-linux-gnu/libgcc_s.so.1 ]]; then lib=/lib/x86_64-linux-gnu/libgcc_s.so.1; fi
    if [[ -n $lib && ! -e $root$lib ]]; then
        install -D -m 0644 "$(readlink -f "$lib")" "$root$lib"
    fi
}

# --- capture initramfs (also the base of the first-kernel image) ---------------------------
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,sbin,etc,proc,sys,dev,lib/modules,usr/bin,tmp}
install -m 0755 /bin/busybox "$ROOT/bin/busybox"
# Applet links for every name except busybox itself: a self-link makes /init fail with
# error -40 (ELOOP) (real-vmcore.md pitfalls).
for applet in $(/bin/busybox --list); do
    [[ $applet == busybox ]] && continue
    ln -sf busybox "$ROOT/bin/$applet"
done
for m in "${MOD_ORDER[@]}"; do
    ko_cat "${MODFILE[$m]}" >"$ROOT/lib/modules/$m.ko"
done
install -m 0755 "$SCRIPTS_DIR/guest/init.sh" "$ROOT/init"
install -m 0755 "$CACHE/build/bin/kexec-crash" "$ROOT/bin/kexec-crash"

COLLECTOR_CMD=
if has_collector; then
    copy_with_libs "$COLLECTOR" "$ROOT" /bin/collector
    copy_with_libs /usr/bin/time "$ROOT" /usr/bin/time
    if [[ -n $COLLECTOR_SCRIPT ]]; then
        COLLECTOR_CMD="sh $COLLECTOR_SCRIPT (as /etc/collector.sh)"
        { printf '#!/bin/sh\nset -o pipefail\ncd /out\n'; cat "$COLLECTOR_SCRIPT"; } >"$ROOT/etc/collector.sh"
    else
        args=${COLLECTOR_ARGS//\{vmcore\}//proc/vmcore}
        args=${args//\{out\}//out}
        if [[ $args == */proc/vmcore* ]]; then
            COLLECTOR_CMD="collector $args"
        else
            COLLECTOR_CMD="collector $args /proc/vmcore /out/dump"
        fi
        # A file, not a variable in the conf: ARGS may hold quotes, pipes and redirections.
        printf '#!/bin/sh\nset -o pipefail\ncd /out\n%s\n' "$COLLECTOR_CMD" >"$ROOT/etc/collector.sh"
    fi
    log "collector command: $COLLECTOR_CMD"
fi

cat >"$ROOT/etc/mkvmcore.conf" <<EOF
MODE=$MODE
KEEP_VMCORE=$KEEP_VMCORE
MODULES='${MOD_ORDER[*]}'
SHM_RANDOM_MB=$SHM_RANDOM_MB
SHM_TEXT_MB=$SHM_TEXT_MB
SHM_ZERO_MB=$SHM_ZERO_MB
MEMHOGS='$MEMHOGS'
SETTLE_SECONDS=$SETTLE_SECONDS
CAPTURE_APPEND='$CAPTURE_APPEND'
EOF

mkcpio() {  # DIR -> gzip'd newc archive on stdout
    (cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null --create --format=newc --quiet) | gzip -6
}
mkcpio "$ROOT" >"$WORK/capture.cpio.gz"
# The first kernel's image = capture image + an appended archive with the kernel, the
# capture image itself and the workload tool (an image cannot contain itself; the kernel
# unpacks concatenated cpio archives in order).
EXTRA=$WORK/extra
mkdir -p "$EXTRA/bin"
install -m 0644 "$VMLINUZ" "$EXTRA/vmlinuz"
install -m 0644 "$WORK/capture.cpio.gz" "$EXTRA/initrd.img"
install -m 0755 "$CACHE/build/bin/memhog" "$EXTRA/bin/memhog"
if has_first_script; then
    # Only the first kernel runs them, so they go into its part of the image; the capture
    # image (and the memory the first kernel's rootfs holds) stays what the vmcore had,
    # plus these files.
    for i in "${!INSTALL_SRC[@]}"; do
        copy_with_libs "${INSTALL_SRC[$i]}" "$EXTRA" "${INSTALL_DEST[$i]}"
        log "install ${INSTALL_SRC[$i]} as ${INSTALL_DEST[$i]}"
    done
    copy_with_libs /usr/bin/time "$EXTRA" /usr/bin/time
    install -D -m 0644 "$FIRST_SCRIPT" "$EXTRA/etc/first-kernel.sh"
fi
cat "$WORK/capture.cpio.gz" <(mkcpio "$EXTRA") >"$WORK/initrd.gz"
log "initramfs: capture $(du -h "$WORK/capture.cpio.gz" | cut -f1), first $(du -h "$WORK/initrd.gz" | cut -f1)"

# --- disks ---------------------------------------------------------------------------------
DATA_IMG=$BUILD/data.img
# Three entropy levels: random (raw fallback), base64 (~75% entropy), decimal text.
[[ -s $DATA_IMG ]] || build_data_disk "$DATA_IMG" "$DATA_RANDOM_MB" "$DATA_B64_MB" "$DATA_TEXT_MB"
OUT_IMG=$WORK/out.img
# Sparse; room for the whole core (copy) or an ELF/-d 0 output (collector), plus a copy
# of the core with --keep-vmcore.
truncate -s $(((1 + KEEP_VMCORE) * MEM_MB + 512))M "$OUT_IMG"
if [[ $MODE != copy ]]; then
    mkfs.ext4 -q -F -L mkvmcore-out "$OUT_IMG"
fi

# --- boot ----------------------------------------------------------------------------------
if [[ $MODE == copy ]]; then
    # Kept in $WORK until the run succeeds, so a failed --force run leaves the previous
    # vmcore and its serial.log consistent.
    mkdir -p "$VMCORE_DIR"; SERIAL=$WORK/serial.log
else
    RESULT_DIR=$CACHE/$MODE-out/$PROFILE
    rm -rf "$RESULT_DIR"; mkdir -p "$RESULT_DIR"; SERIAL=$RESULT_DIR/serial.log
fi
: >"$SERIAL"
# -accel tcg: KVM died here with "KVM internal error ... emulation failure" (nested virt).
# -device vmcoreinfo + qemu_fw_cfg: VMCOREINFO for QEMU-side dumps as well.
# -no-reboot: poweroff/panic of either kernel ends QEMU.
QEMU=(qemu-system-x86_64 -accel tcg -smp "$SMP" -m "$MEM_MB" -nodefaults -display none
      -no-reboot -device vmcoreinfo -serial "file:$SERIAL"
      -kernel "$VMLINUZ" -initrd "$WORK/initrd.gz"
      -append "console=ttyS0 crashkernel=$CRASHKERNEL panic=1 quiet"
      -drive "file=$DATA_IMG,if=virtio,format=raw,readonly=on"
      -drive "file=$OUT_IMG,if=virtio,format=raw")
log "booting $KVER ($MEM_MB MB, -smp $SMP, crashkernel=$CRASHKERNEL, mode $MODE); serial: $SERIAL"
if has_first_script; then log "first-kernel script: $FIRST_SCRIPT"; fi
if [[ $MODE != first-kernel ]]; then log "capture kernel command line: $CAPTURE_APPEND"; fi
t0=$(date +%s)
qrc=0
timeout "$QEMU_TIMEOUT" "${QEMU[@]}" </dev/null >&2 || qrc=$?
t1=$(date +%s)
grep -a '^@@MKV' "$SERIAL" | sed 's/^/  guest: /' >&2 || true

failed() {
    warn "$1"
    echo "----- tail of $SERIAL -----" >&2
    tail -n 60 "$SERIAL" >&2
    exit 1
}
((qrc == 124)) && failed "QEMU timed out after ${QEMU_TIMEOUT}s"
((qrc == 0)) || failed "QEMU exited with status $qrc"
grep -aq '^@@MKV FAIL' "$SERIAL" && failed "guest reported a failure"

if has_first_script; then
    frc=$(grep -a -m1 '^@@MKV FIRST_KERNEL_DONE' "$SERIAL" | sed 's/.*rc=//' | tr -d '\r' || true)
    [[ $frc =~ ^[0-9]+$ ]] || failed "the first-kernel script did not report completion"
fi
if [[ $MODE == first-kernel ]]; then
    extract_out_disk "$OUT_IMG" "$RESULT_DIR"
    {
        echo "profile:      $PROFILE"
        echo "kernel:       $KVER ($(basename "$deb"))"
        echo "guest:        ${MEM_MB} MB, -smp $SMP, crashkernel=$CRASHKERNEL, TCG"
        echo "workload:     data ${DATA_RANDOM_MB}+${DATA_B64_MB}+${DATA_TEXT_MB} MB (random+b64+text), shm ${SHM_RANDOM_MB}+${SHM_TEXT_MB}+${SHM_ZERO_MB} MB, memhogs $MEMHOGS"
        echo "script:       $FIRST_SCRIPT"
        for i in "${!INSTALL_SRC[@]}"; do echo "installed:    ${INSTALL_SRC[$i]} as ${INSTALL_DEST[$i]}"; done
        echo "exit code:    $frc"
        grep -a -m1 '^@@MKV WORKLOAD_DONE' "$SERIAL" | sed 's/^@@MKV WORKLOAD_DONE/meminfo before: /' | tr -d '\r'
        grep -a -m1 '^@@MKV FIRST_KERNEL_MEM' "$SERIAL" | sed 's/^@@MKV FIRST_KERNEL_MEM/meminfo after:  /' | tr -d '\r'
        echo "qemu seconds: $((t1 - t0))"
        echo "created:      $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    } >"$RESULT_DIR/result.txt"
    cat "$RESULT_DIR/result.txt" >&2
    ls -l "$RESULT_DIR" >&2
    rm -rf "$WORK"
    ((frc == 0)) || { warn "first-kernel script exited with $frc (see $RESULT_DIR/first.log)"; echo "$RESULT_DIR"; exit 1; }
    echo "$RESULT_DIR"
    exit 0
fi
grep -aq '^@@MKV CAPTURE_KERNEL' "$SERIAL" || failed "capture kernel never started"
size=$(grep -a -m1 '^@@MKV VMCORE_SIZE' "$SERIAL" | awk '{print $3}' | tr -d '\r')
[[ $size =~ ^[0-9]+$ ]] || failed "no VMCORE_SIZE in serial log"
log "QEMU run took $((t1 - t0)) s; /proc/vmcore was $size bytes"

if [[ $MODE == copy ]]; then
    rc=$(grep -a -m1 '^@@MKV COPY_DONE' "$SERIAL" | sed 's/.*rc=//' | tr -d '\r')
    [[ $rc == 0 ]] || failed "dd in the capture kernel failed (rc=${rc:-none})"
    # The disk image is sparse and larger than the core: cut it to the exact size.
    truncate -s "$size" "$OUT_IMG"
    [[ $(head -c 4 "$OUT_IMG" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]] ||
        failed "copied image does not start with the ELF magic"
    mv "$OUT_IMG" "$VMCORE"
    mv "$SERIAL" "$VMCORE_DIR/serial.log"
    SERIAL=$VMCORE_DIR/serial.log
    {
        echo "profile:      $PROFILE"
        echo "kernel:       $KVER ($(basename "$deb"))"
        echo "guest:        ${MEM_MB} MB, -smp $SMP, crashkernel=$CRASHKERNEL, TCG"
        echo "workload:     data ${DATA_RANDOM_MB}+${DATA_B64_MB}+${DATA_TEXT_MB} MB (random+b64+text), shm ${SHM_RANDOM_MB}+${SHM_TEXT_MB}+${SHM_ZERO_MB} MB, memhogs $MEMHOGS"
        echo "size:         $size bytes"
        echo "created:      $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "qemu seconds: $((t1 - t0))"
        grep -a -m1 '^@@MKV WORKLOAD_DONE' "$SERIAL" | sed 's/^@@MKV WORKLOAD_DONE/first-kernel meminfo:/' | tr -d '\r'
        # VMCOREINFO sits in the PT_NOTE segment in the first pages of the core.
        head -c 65536 "$VMCORE" | tr '\0' '\n' |
            grep -a -E '^(OSRELEASE|KERNELOFFSET|CRASHTIME|NUMBER\(phys_base\))=' || true
        if command -v readelf >/dev/null; then readelf -lW "$VMCORE" | sed -n '/Program Headers/,$p'; fi
    } >"$VMCORE_DIR/info.txt"
    rm -rf "$WORK"
    log "vmcore: $VMCORE ($size bytes); info: $VMCORE_DIR/info.txt"
    echo "$VMCORE"
    exit 0
fi

# Collector modes: pull every regular file out of the ext4 output disk.
crc=$(grep -a -m1 '^@@MKV COLLECTOR_DONE' "$SERIAL" | sed 's/.*rc=//' | tr -d '\r')
[[ $crc =~ ^[0-9]+$ ]] || failed "collector did not report completion"
extract_out_disk "$OUT_IMG" "$RESULT_DIR"
first_lines=
if [[ $MODE == first-then-collector ]]; then
    first_lines=$(
        echo "first script: $FIRST_SCRIPT"
        for i in "${!INSTALL_SRC[@]}"; do echo "installed:    ${INSTALL_SRC[$i]} as ${INSTALL_DEST[$i]}"; done
        echo "first exit code: $frc"
        grep -a -m1 '^@@MKV WORKLOAD_DONE' "$SERIAL" | sed 's/^@@MKV WORKLOAD_DONE/first meminfo before: /' | tr -d '\r'
        grep -a -m1 '^@@MKV FIRST_KERNEL_MEM' "$SERIAL" | sed 's/^@@MKV FIRST_KERNEL_MEM/first meminfo after:  /' | tr -d '\r'
    )
fi
collector_result "$PROFILE ($KVER, ${MEM_MB} MB, crashkernel=$CRASHKERNEL)" "$COLLECTOR" "$crc" "$size" \
    "$first_lines" >"$RESULT_DIR/result.txt"
cat "$RESULT_DIR/result.txt" >&2
ls -l "$RESULT_DIR" >&2
rm -rf "$WORK"
((crc == 0)) || { warn "collector exited with $crc (see $RESULT_DIR/collector.log)"; echo "$RESULT_DIR"; exit 1; }
if [[ $MODE == first-then-collector ]] && ((frc != 0)); then
    warn "first-kernel script exited with $frc (see $RESULT_DIR/first.log)"; echo "$RESULT_DIR"; exit 1
fi
echo "$RESULT_DIR"
