#!/usr/bin/env bash
# Our Debian package under Debian's own kdump-tools, end to end, after a real panic (issue 18).
#
# Usage: tests/kdump-tools-e2e.sh [--deb PATH] [--runs "default threads"] [--keep DIR]
#   --deb   use this .deb instead of building it with scripts/build-deb.sh
#   --runs  subset of the two runs below (default: both)
#   --keep  keep every run's disk image, serial log and files in DIR
#
# 1. scripts/build-deb.sh builds makedumpfile-rs_*.deb (lintian must report no error).
# 2. scripts/guest-kdump-tools/make-rootfs.sh (cached in $CACHE/kdump-tools): a Debian
#    bookworm root filesystem made with debootstrap, with kdump-tools, kexec-tools,
#    Debian's makedumpfile 1.7.2 and the harness's 6.1 cloud kernel; it has booted once,
#    when kdump-tools built its capture initramfs in the guest.
# 3. In a copy of that image (chroot, no network): `apt-get install ./ours.deb` replaces
#    Debian's makedumpfile (kdump-tools stays); `apt-get remove makedumpfile-rs` and
#    `apt-get install ./makedumpfile_1.7.2.deb` bring Debian's back; ours is installed again.
# 4. Per run, a fresh copy of the image with our package installed boots under QEMU (TCG,
#    2 vCPUs, 1 GiB) with the crashkernel= kdump-tools puts into GRUB's configuration:
#      - kdump-tools.service runs `kdump-config load` (its own initramfs, kexec -p);
#      - the test's driver (guest-kdump-tools/e2e-guest.sh) panics the kernel (sysrq c);
#      - the capture kernel boots the same root filesystem with kdump-tools' own command
#        line (systemd.unit=kdump-tools-dump.service), and kdump-tools runs our
#        makedumpfile --dump-dmesg, then makedumpfile $MAKEDUMP_ARGS, saves
#        /var/crash/DATE/dmesg.DATE and dump.DATE, and reboots (reboot -f);
#      - the guest comes back into its normal kernel, the driver finds the dump, prints
#        what kdump-tools logged in the capture boot's journal, and powers the guest off.
#    Runs: default   kdump-tools' defaults: MAKEDUMP_ARGS unset ("-F -c -d 31"), nr_cpus=1
#          threads   MAKEDUMP_ARGS="-l -d 31 --num-threads 2" (kdump-tools adds -F) and
#                    nr_cpus=2 in KDUMP_CMDLINE_APPEND (/etc/default/kdump-tools), and
#                    crashkernel=256M: in kdump-tools' default 128M the capture kernel
#                    with systemd has too little free memory for two threads' buffers
#                    and makedumpfile (ours, as makedumpfile 1.7.2) falls back to serial
# Checks per run, from the host (the image is loop-mounted after the guest powered off):
#   - the capture kernel was loaded by kdump-config, ours was the installed makedumpfile;
#   - the guest panicked and the capture kernel came up with the CPUs asked for;
#   - kdump-tools ran makedumpfile with the run's arguments (threads: with 2 threads, not
#     lowered to serial for lack of memory), saved the dump and the dmesg,
#     logged no fallback to `cp /proc/vmcore` (neither on the serial console nor in the
#     capture boot's journal, which the driver prints after the reboot), and left exactly
#     dump.DATE and dmesg.DATE;
#   - the guest rebooted into its normal kernel and powered off;
#   - crash (with the -dbg vmlinux) opens dump.DATE, a flattened stream, directly: sys
#     (RELEASE and PANIC), ps, kmem -i and log succeed (tests/readers.sh's rules);
#   - Debian's makedumpfile -R rebuilds it, and libkdumpfile reads every page the rebuilt
#     dump holds (guest-kdump-tools/kdump-open-check.py; no source core to compare with);
#   - dmesg.DATE equals our --dump-dmesg of the saved dump.DATE as it is (the packaged
#     binary, taken out of the .deb), and makedumpfile 1.7.2's --dump-dmesg of the -R
#     rebuild agrees.
# A missing tool, image or debug vmlinux is a FAILURE, never a skip. Needs root (chroot,
# loop mounts). Ends with "N passed, M failed".
#
# Run time, 2 cores, TCG, image cached (measured): 3 min 32 s in all, the package
# rebuilt from a fresh release build included; per run 80-130 s of QEMU (three systemd
# boots: first kernel, capture kernel, first kernel again) and ~5 s of host checks. The
# slowest seen, with the host busy: 4 min 36 s. Image not cached: 6 min 36 s in all
# (the image ~3 min: debootstrap and packages ~1 min, its first boot with mkinitramfs
# under TCG ~2 min); building cargo-deb the first time adds ~2-3 min.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# Helpers: check, fail_check, run_crash, crash_succeeded, debug_vmlinux, REF, log, die.
. "$ROOT/tests/readers.sh"
. "$ROOT/scripts/guest-kdump-tools/lib.sh"

DEB=
RUNS="default threads"
KEEP=
while [[ $# -gt 0 ]]; do
    case $1 in
        --deb) DEB=${2:?--deb needs a path}; shift 2 ;;
        --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
        --keep) KEEP=${2:?--keep needs a directory}; shift 2 ;;
        -h|--help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
for r in $RUNS; do
    case $r in default|threads) ;; *) die "unknown run '$r' (default|threads)" ;; esac
done

if [[ -n $KEEP ]]; then
    mkdir -p "$KEEP" || die "cannot create $KEEP"
    WORK=$(cd "$KEEP" && pwd)
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/mdf-kdump-tools.XXXXXX")
fi
MNT=$WORK/mnt
cleanup() {
    mountpoint -q "$MNT" 2>/dev/null && kt_umount "$MNT"
    [[ -n $KEEP ]] || rm -rf "$WORK"
}
trap cleanup EXIT
T0=$SECONDS
RELEASE=$KERNEL_ABI-cloud-amd64
VMLINUX=$(debug_vmlinux "$RELEASE")

# --- prerequisites: each missing one is a failure -----------------------------------------
ready=1
if [[ $(id -u) -ne 0 ]]; then
    ready=0; fail_check "prerequisite: root" "chroot and loop mounts need root"
fi
# (build-deb.sh installs cargo-deb and lintian, make-rootfs.sh debootstrap, when missing.)
for c in qemu-system-x86_64 crash chroot mount timeout; do
    command -v "$c" >/dev/null || { ready=0; fail_check "prerequisite: $c" "$c not found (scripts/install-deps.sh)"; }
done
[[ -x $REF ]] || { ready=0; fail_check "prerequisite: makedumpfile 1.7.2" "no $REF (scripts/install-deps.sh)"; }
"$DEBIAN_PYTHON" -c 'import kdumpfile' 2>/dev/null ||
    { ready=0; fail_check "prerequisite: python3-libkdumpfile" "$DEBIAN_PYTHON cannot import kdumpfile"; }
[[ -s $VMLINUX ]] ||
    { ready=0; fail_check "prerequisite: debug vmlinux" "missing $VMLINUX (scripts/install-deps.sh --with-dbg)"; }

# --- the package and the image -------------------------------------------------------------
build_deb() { "$ROOT/scripts/build-deb.sh" >"$WORK/build-deb.out"; }
if [[ -z $DEB ]]; then
    check "the package builds and lintian reports no error (scripts/build-deb.sh)" build_deb
    DEB=$(tail -n 1 "$WORK/build-deb.out" 2>/dev/null)
fi
[[ -s $DEB ]] || { ready=0; fail_check "package" "no .deb ($DEB)"; }
# The packaged binary itself, to read the saved dumps on the host.
OURS=$WORK/makedumpfile
dpkg-deb --fsys-tarfile "$DEB" 2>/dev/null | tar -xOf - ./usr/bin/makedumpfile >"$OURS" 2>/dev/null
chmod +x "$OURS"
"$OURS" -v >/dev/null 2>&1 || { ready=0; fail_check "package" "no runnable /usr/bin/makedumpfile in $DEB"; }
make_image() { "$ROOT/scripts/guest-kdump-tools/make-rootfs.sh" >/dev/null; }
check "bookworm image with kdump-tools (make-rootfs.sh; cached in $KT_DIR)" make_image
[[ -s $KT_DIR/bookworm.img ]] || { ready=0; fail_check "image" "no $KT_DIR/bookworm.img"; }
DEBIAN_DEB=$(cached_deb makedumpfile)
[[ -n $DEBIAN_DEB ]] || { ready=0; fail_check "Debian's makedumpfile .deb" "not in $CACHE/debs (make-rootfs.sh --force)"; }
if ((!ready)); then
    echo; echo "$passed passed, $failed failed"; exit 1
fi

# in_guest_root CMD...: run in the mounted image (apt and dpkg only; nothing starts there).
in_guest_root() { chroot "$MNT" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
# shellcheck disable=SC2016 # ${db:Status-Status} is dpkg-query's format, not the shell's
# status PKG: dpkg's status word of PKG in the image ("installed", "not-installed", ...).
status() { in_guest_root dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || echo not-installed; }
install_ours() {
    cp "$DEB" "$MNT/tmp/ours.deb"
    local rc=0
    in_guest_root apt-get install -y --no-install-recommends /tmp/ours.deb >"$WORK/apt.log" 2>&1 || rc=$?
    rm -f "$MNT/tmp/ours.deb"
    ((rc == 0)) || { echo "apt-get install ./ours.deb failed:"; tail -n 5 "$WORK/apt.log"; return 1; }
    [[ $(status makedumpfile-rs) == installed ]] || { echo "makedumpfile-rs is $(status makedumpfile-rs)"; return 1; }
}

# apt_round_trip: ours over Debian's, then Debian's back, then ours again (step 3).
apt_round_trip() {
    local bad=0
    [[ $(status makedumpfile) == installed ]] || { echo "the image lacks Debian's makedumpfile"; return 1; }
    install_ours || return 1
    echo "apt-get install ./ours.deb: makedumpfile-rs $(status makedumpfile-rs), makedumpfile $(status makedumpfile), kdump-tools $(status kdump-tools)"
    [[ $(status makedumpfile) != installed ]] || { echo "Debian's makedumpfile is still installed"; bad=1; }
    [[ $(status kdump-tools) == installed ]] || { echo "kdump-tools was removed"; bad=1; }
    in_guest_root makedumpfile -v 2>&1 | head -n 1 | grep 'makedumpfile-rs' || { echo "/usr/bin/makedumpfile is not ours"; bad=1; }
    zcat "$MNT/usr/share/man/man8/makedumpfile.8.gz" | grep -q 'makedumpfile-rs' || { echo "the man page is not ours"; bad=1; }
    in_guest_root apt-get remove -y makedumpfile-rs >/dev/null 2>&1 || { echo "apt-get remove makedumpfile-rs failed"; bad=1; }
    [[ $(status kdump-tools) == installed ]] || { echo "removing ours removed kdump-tools"; bad=1; }
    cp "$DEBIAN_DEB" "$MNT/tmp/debian.deb"
    in_guest_root apt-get install -y --no-install-recommends /tmp/debian.deb >"$WORK/apt.log" 2>&1 ||
        { echo "apt-get install Debian's makedumpfile failed"; bad=1; }
    rm -f "$MNT/tmp/debian.deb"
    echo "remove ours, install Debian's: makedumpfile-rs $(status makedumpfile-rs), makedumpfile $(status makedumpfile)"
    in_guest_root makedumpfile -v 2>&1 | head -n 1 | grep 'version 1.7.2' || { echo "Debian's makedumpfile did not come back"; bad=1; }
    zcat "$MNT/usr/share/man/man8/makedumpfile.8.gz" | grep -q 'makedumpfile-rs' && { echo "our man page stayed"; bad=1; }
    install_ours || bad=1
    echo "installed ours again: makedumpfile-rs $(status makedumpfile-rs), makedumpfile $(status makedumpfile)"
    return "$bad"
}

# run_args RUN: what kdump-tools passes to makedumpfile (it appends -F when missing).
run_args() { if [[ $1 == threads ]]; then echo "-l -d 31 --num-threads 2 -F"; else echo "-F -c -d 31"; fi; }
run_cpus() { if [[ $1 == threads ]]; then echo 2; else echo 1; fi; }
# run_crashkernel RUN: kdump-tools' GRUB default (384M-:128M) for the default run. In
# 128 MB, with systemd up in the capture kernel, the memory check lowers --num-threads 2 to
# serial ("There isn't enough memory for multi-threads.", as makedumpfile would), so the
# threads run reserves 256 MB, as a user who asks for threads in the capture kernel must.
run_crashkernel() { if [[ $1 == threads ]]; then echo crashkernel=256M; else cat "$KT_DIR/crashkernel"; fi; }

# prepare RUN IMG: a fresh copy of the image with ours installed, the driver armed and,
# for the threads run, kdump-tools configured as a user would in /etc/default/kdump-tools.
prepare() {
    local run=$1 img=$2 rc=0
    cp --sparse=always "$KT_DIR/bookworm.img" "$img" || return 1
    kt_mount "$img" "$MNT" || { echo "cannot loop-mount $img"; return 1; }
    if [[ $run == "${RUNS%% *}" ]]; then apt_round_trip || rc=1; else install_ours || rc=1; fi
    kt_install_driver "$MNT" crash
    if [[ $run == threads ]]; then
        printf '%s\n' 'MAKEDUMP_ARGS="-l -d 31 --num-threads 2"' \
            'KDUMP_CMDLINE_APPEND="reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=2 irqpoll usbcore.nousb"' \
            >>"$MNT/etc/default/kdump-tools"
    fi
    kt_umount "$MNT" || rc=1
    return "$rc"
}

# collect IMG DIR: /var/crash/2* of the powered-off guest into DIR/crash.
collect() {
    local img=$1 dir=$2
    kt_mount "$img" "$MNT" || { echo "cannot loop-mount $img"; return 1; }
    mkdir -p "$dir/crash"
    cp -a "$MNT"/var/crash/2* "$dir/crash/" 2>/dev/null
    ls -lR "$dir/crash"
    kt_umount "$MNT"
}

# stamp_of DIR: the DATE of the one DIR/crash/DATE directory kdump-tools made.
stamp_of() {
    local d
    for d in "$1"/crash/2*; do
        [[ -d $d ]] && { basename "$d"; return 0; }
    done
    return 1
}

# serial_after MARKER FILE: the serial log from the first line matching MARKER on.
serial_after() { tr -d '\r' <"$2" | sed -n "/$1/,\$p"; }

loaded_ok() {  # DIR
    local s=$1/serial.log bad=0
    grep -a -m1 'loaded kdump kernel' "$s" || { echo "kdump-config did not log 'loaded kdump kernel'"; bad=1; }
    grep -a -m1 '@@E2E boot mode=crash kexec_crash_loaded=1' "$s" || { echo "kexec_crash_loaded is not 1"; bad=1; }
    grep -a '@@E2E makedumpfile-v .*makedumpfile-rs' "$s" || { echo "makedumpfile -v in the guest is not ours"; bad=1; }
    grep -a '@@E2E dpkg makedumpfile-rs .* installed' "$s" || { echo "dpkg: makedumpfile-rs not installed"; bad=1; }
    grep -a -m1 '@@E2E kexec_cmd ' "$s"
    return "$bad"
}

capture_ok() {  # DIR RUN
    local cap=$1/capture.log cpus bad=0
    serial_after '@@E2E panicking' "$1/serial.log" >"$cap"
    grep -m1 'Kernel panic - not syncing: sysrq triggered crash' "$cap" || { echo "no sysrq panic after the driver's marker"; bad=1; }
    grep -m1 'Command line: .*elfcorehdr=' "$cap" || { echo "no capture kernel (elfcorehdr=) booted"; bad=1; }
    grep -m1 'Command line: .*systemd.unit=kdump-tools-dump.service' "$cap" >/dev/null ||
        { echo "the capture kernel lacks kdump-tools' systemd.unit="; bad=1; }
    cpus=$(sed -n 's/.*smp: Brought up [0-9]* nodes\{0,1\}, \([0-9]*\) CPUs\{0,1\}.*/\1/p' "$cap" | head -n 1)
    echo "capture kernel CPUs: ${cpus:-?}"
    [[ $cpus == "$(run_cpus "$2")" ]] || { echo "wanted $(run_cpus "$2") CPUs"; bad=1; }
    return "$bad"
}

saved_ok() {  # DIR RUN
    local dir=$1 cap=$1/capture.log args stamp files bad=0
    args=$(run_args "$2")
    grep -m1 -F "running makedumpfile $args /proc/vmcore | compress > /var/crash/" "$cap" ||
        { echo "kdump-tools did not run 'makedumpfile $args /proc/vmcore'"; bad=1; }
    grep -m1 -F 'running makedumpfile --dump-dmesg /proc/vmcore' "$cap" || { echo "no --dump-dmesg step"; bad=1; }
    grep -m1 -F 'saved dmesg content in /var/crash/' "$cap" || { echo "dmesg not saved"; bad=1; }
    grep -m1 -F 'saved vmcore in /var/crash/' "$cap" || { echo "vmcore not saved"; bad=1; }
    if grep -F -e "falling back to 'cp'" -e 'makedumpfile --dump-dmesg failed' -e 'failed to save' "$cap"; then
        echo "kdump-tools logged a failure or the cp fallback"; bad=1
    fi
    # The capture boot's journal, printed by the driver after the reboot (Debian 12 keeps
    # the journal on disk, and the capture boot flushes it there).
    grep -a '@@E2E journal ' "$dir/serial.log" | sed 's/.*@@E2E journal //' >"$dir/capture-journal.txt"
    grep -m1 -F 'saved vmcore in /var/crash/' "$dir/capture-journal.txt" ||
        { echo "the capture boot's journal (kdump-tools) lacks 'saved vmcore in'"; bad=1; }
    if grep -F -e "falling back to 'cp'" -e 'failed' "$dir/capture-journal.txt"; then
        echo "the capture boot's journal has a failure or the cp fallback"; bad=1
    fi
    if [[ $2 == threads ]] && grep -F "There isn't enough memory for multi-threads" "$dir/capture-journal.txt"; then
        echo "makedumpfile ran serially: the capture kernel had too little memory for 2 threads"; bad=1
    fi
    files=$(cd "$dir/crash" 2>/dev/null && find . -type f | sort | tr '\n' ' ')
    echo "files: $files"
    stamp=$(stamp_of "$dir")
    [[ -n $stamp && $files == "./$stamp/dmesg.$stamp ./$stamp/dump.$stamp " ]] ||
        { echo "wanted exactly DATE/dmesg.DATE and DATE/dump.DATE"; bad=1; }
    [[ $(head -c 12 "$dir/crash/$stamp/dump.$stamp" 2>/dev/null) == makedumpfile ]] ||
        { echo "dump.$stamp is not a flattened stream"; bad=1; }
    return "$bad"
}

back_ok() {  # DIR QEMU_STATUS
    local s=$1/serial.log bad=0
    grep -a -m1 '@@E2E back after the dump' "$s" || { echo "the guest did not come back after the dump"; bad=1; }
    grep -a -m1 '@@E2E done' "$s" || { echo "the driver did not finish"; bad=1; }
    [[ $2 == 0 ]] || { echo "QEMU exit status $2 (124: timeout)"; bad=1; }
    return "$bad"
}

# rebuild DIR: the flattened dump.DATE as a kdump file, by Debian's makedumpfile -R.
rebuild() {
    local stamp; stamp=$(stamp_of "$1")
    mkdir -p "$1/rebuilt"; rm -f "$1/rebuilt/dump"
    "$REF" -R "$1/rebuilt/dump" <"$1/crash/$stamp/dump.$stamp" | tail -n 1
    [[ -s $1/rebuilt/dump ]]
}

# dmesg_ok DIR: dmesg.DATE (ours, in the capture kernel) = our --dump-dmesg of the saved
# dump.DATE, and = makedumpfile 1.7.2's of its -R rebuild.
dmesg_ok() {
    local dir=$1 stamp; stamp=$(stamp_of "$dir")
    rm -f "$dir/dmesg.ours" "$dir/dmesg.ref"
    "$OURS" --dump-dmesg "$dir/crash/$stamp/dump.$stamp" "$dir/dmesg.ours" >/dev/null ||
        { echo "our --dump-dmesg of dump.$stamp failed"; return 1; }
    cmp "$dir/crash/$stamp/dmesg.$stamp" "$dir/dmesg.ours" || return 1
    "$REF" --dump-dmesg "$dir/rebuilt/dump" "$dir/dmesg.ref" >/dev/null 2>&1 ||
        { echo "makedumpfile 1.7.2 --dump-dmesg of the rebuilt dump failed"; return 1; }
    cmp "$dir/crash/$stamp/dmesg.$stamp" "$dir/dmesg.ref" || return 1
    echo "identical (ours and makedumpfile's): $(wc -l <"$dir/dmesg.ours") lines; last: $(tail -n 1 "$dir/dmesg.ours")"
}

for run in $RUNS; do
    rstart=$SECONDS
    R=$WORK/$run
    rm -rf "$R"; mkdir -p "$R"
    IMG=$R/disk.img
    log "=== $run: makedumpfile $(run_args "$run") in a capture kernel with nr_cpus=$(run_cpus "$run"), $(run_crashkernel "$run")"
    if [[ $run == "${RUNS%% *}" ]]; then
        what="apt installs ours over Debian's makedumpfile and Debian's back (chroot, no network); ours again"
    else
        what="apt installs ours over Debian's makedumpfile (chroot)"
    fi
    check "$run: $what" prepare "$run" "$IMG"
    qrc=0
    log "booting (serial: $R/serial.log)"
    bstart=$SECONDS
    kt_boot "$IMG" "$R/serial.log" 420 "$(run_crashkernel "$run")" || qrc=$?
    log "guest powered off after $((SECONDS - bstart)) s (QEMU status $qrc)"
    check "$run: kdump-config loaded the capture kernel; /usr/bin/makedumpfile is ours" loaded_ok "$R"
    check "$run: sysrq panic; the capture kernel booted with kdump-tools' command line and $(run_cpus "$run") CPU(s)" \
        capture_ok "$R" "$run"
    check "$run: /var/crash copied out of the image" collect "$IMG" "$R"
    check "$run: kdump-tools ran makedumpfile $(run_args "$run"), saved dump.DATE and dmesg.DATE, no cp fallback" \
        saved_ok "$R" "$run"
    check "$run: the guest rebooted into its kernel after the dump and powered off" back_ok "$R" "$qrc"
    stamp=$(stamp_of "$R")
    if [[ -z $stamp ]]; then
        fail_check "$run: readers" "no dump to read"
    else
        mkdir -p "$R/open"; ln -sf "$R/crash/$stamp/dump.$stamp" "$R/open/dump"
        run_crash "$R/open" "$VMLINUX"
        check "$run: crash opens dump.$stamp (flattened): sys, ps, kmem -i, log" crash_succeeded "$R/open" "$RELEASE"
        check "$run: Debian's makedumpfile -R rebuilds dump.$stamp" rebuild "$R"
        check "$run: libkdumpfile reads every page of the rebuilt dump" \
            "$DEBIAN_PYTHON" "$ROOT/scripts/guest-kdump-tools/kdump-open-check.py" "$R/rebuilt/dump" "$RELEASE"
        check "$run: dmesg.$stamp equals our --dump-dmesg of dump.$stamp (and makedumpfile's of the rebuild)" dmesg_ok "$R"
        check "$run: our --verify passes on dump.$stamp as saved (flattened)" \
            "$OURS" --verify "$R/crash/$stamp/dump.$stamp"
    fi
    [[ -n $KEEP ]] || rm -f "$IMG"
    log "=== $run done in $((SECONDS - rstart)) s"
done

echo "run time: $((SECONDS - T0)) s"
echo
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
