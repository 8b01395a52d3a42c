#!/usr/bin/env bash
# Build (once) the Debian bookworm disk image that tests/kdump-tools-e2e.sh boots: a
# debootstrap root filesystem with systemd, Debian's kdump-tools, kexec-tools and
# makedumpfile 1.7.2, and the harness's cloud kernel installed from its cached .deb (so the
# guest has its modules and initramfs-tools made /boot/initrd.img in the chroot).
#
# Usage: scripts/guest-kdump-tools/make-rootfs.sh [--force]
#   Prints the image directory last. Cached in $CACHE/kdump-tools/ (outside the checkout):
#     bookworm.img        raw ext4 image of the root filesystem (sparse, 3 GiB apparent)
#     vmlinuz, initrd.img the guest kernel and its initramfs-tools initramfs, for QEMU -kernel
#     release             the kernel release inside the image
#     crashkernel         the crashkernel= that kdump-tools puts into GRUB's configuration
#   The image has booted once (kdump-tools built its capture initramfs in the guest).
#   Debian's makedumpfile .deb is kept in $CACHE/debs so that the test can reinstall it
#   without network. --force rebuilds.
#
# Needs root (debootstrap, chroot) and the network to deb.debian.org (Debian's packages).
# Run time: ~3 min the first time (1 min debootstrap and packages, ~2 min for the first
# boot under QEMU), nothing when cached.
#
# Inside the chroot no service may start (it would be the host's kernel that kdump-config
# loads into): a policy-rc.d forbids it while packages are installed. kdump-tools is
# installed after the kernel so that its kernel hook does not build the capture initramfs
# in the chroot: the guest builds it itself at its first `kdump-config load`, as a real
# machine does.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"

FORCE=0
for arg in "$@"; do
    case $arg in
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) die "unknown argument: $arg" ;;
    esac
done

MIRROR=http://deb.debian.org/debian
SUITE=bookworm
KVER=$KERNEL_ABI-cloud-amd64
KPKG=linux-image-$KVER
OUT=$KT_DIR
IMG=$OUT/bookworm.img
IMG_SIZE=3G

if [[ -s $IMG && -s $OUT/vmlinuz && -s $OUT/initrd.img && -s $OUT/crashkernel && $FORCE -eq 0 ]]; then
    log "cached image $IMG (use --force to rebuild)"
    echo "$OUT"
    exit 0
fi

need_root
if ! command -v debootstrap >/dev/null 2>&1; then
    log "apt-get install debootstrap"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; } >&2 ||
        die "apt-get install debootstrap failed"
fi
for c in debootstrap chroot mkfs.ext4 apt-get dpkg-deb mount umount qemu-system-x86_64 timeout; do need_cmd "$c" "apt-get install debootstrap e2fsprogs"; done
mkdir -p "$OUT" "$CACHE/debs"

deb=$(cached_deb "$KPKG")
if [[ -z $deb ]]; then
    log "apt-get download $KPKG"
    (cd "$CACHE/debs" && apt-get download "$KPKG") >&2 || die "apt-get download $KPKG failed"
    deb=$(cached_deb "$KPKG")
    [[ -n $deb ]] || die "apt-get download $KPKG produced no .deb"
fi

ROOTFS=$OUT/rootfs.d
MOUNTS=()
cleanup() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
rm -rf "$ROOTFS" "$IMG.tmp"
mkdir -p "$ROOTFS" "$OUT/debootstrap-cache"

# Base system: systemd as init, initramfs-tools for the kernel, what the kernel's postinst
# needs. Packages are kept in debootstrap-cache so a --force rebuild downloads nothing.
log "debootstrap $SUITE into $ROOTFS"
debootstrap --variant=minbase --cache-dir="$OUT/debootstrap-cache" \
    --include=systemd-sysv,udev,kmod,initramfs-tools,linux-base,procps,e2fsprogs,zstd \
    "$SUITE" "$ROOTFS" "$MIRROR" >&2 || die "debootstrap failed (network to deb.debian.org?)"

mount -t proc proc "$ROOTFS/proc"; MOUNTS+=("$ROOTFS/proc")
mount -t sysfs sysfs "$ROOTFS/sys"; MOUNTS+=("$ROOTFS/sys")
mount --bind /dev "$ROOTFS/dev"; MOUNTS+=("$ROOTFS/dev")
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
printf '#!/bin/sh\n# No service starts in the image builder chroot.\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
chmod 0755 "$ROOTFS/usr/sbin/policy-rc.d"
in_root() { chroot "$ROOTFS" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

log "installing $(basename "$deb") in the chroot"
cp "$deb" "$ROOTFS/tmp/"
in_root apt-get install -y -q "/tmp/$(basename "$deb")" >&2 || die "installing $KPKG in the chroot failed"
rm -f "$ROOTFS/tmp/$(basename "$deb")"

# kexec-tools asks whether to kexec into a new kernel on every reboot; a real kdump
# machine answers no, and reboot must reach QEMU here.
echo 'kexec-tools kexec-tools/load_kexec boolean false' | in_root debconf-set-selections
echo 'kdump-tools kdump-tools/use_kdump boolean true' | in_root debconf-set-selections
log "apt-get install kdump-tools makedumpfile"
in_root apt-get install -y -q --no-install-recommends kdump-tools makedumpfile kexec-tools >&2 || die "apt-get install kdump-tools failed"
mdf_deb=$(find "$ROOTFS/var/cache/apt/archives" -name 'makedumpfile_*.deb' | head -n1)
[[ -n $mdf_deb ]] || die "Debian's makedumpfile .deb is not in the chroot's apt cache"
cp "$mdf_deb" "$CACHE/debs/"

# The root file system is the guest's only disk; the capture kernel mounts it too.
cat >"$ROOTFS/etc/fstab" <<'EOF'
/dev/vda / ext4 errors=remount-ro 0 1
EOF
echo kdump-e2e >"$ROOTFS/etc/hostname"
in_root passwd -d root >/dev/null
# Nothing on the timers: a boot under TCG is slow enough.
in_root systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
    e2scrub_reap.service fstrim.timer >/dev/null 2>&1 || true
in_root apt-get clean
rm -f "$ROOTFS/usr/sbin/policy-rc.d" "$ROOTFS/etc/resolv.conf"
# What kdump-tools adds to GRUB's kernel command line; the guest boots without GRUB
# (QEMU -kernel), so kt_boot passes it.
grep -o 'crashkernel=[^ "]*' "$ROOTFS/etc/default/grub.d/kdump-tools.cfg" >"$OUT/crashkernel.tmp" ||
    die "no crashkernel= in kdump-tools' GRUB configuration"
kt_install_driver "$ROOTFS" prime

cleanup; MOUNTS=()
cp "$ROOTFS/boot/vmlinuz-$KVER" "$OUT/vmlinuz"
cp "$ROOTFS/boot/initrd.img-$KVER" "$OUT/initrd.img"
echo "$KVER" >"$OUT/release"
log "mkfs.ext4 -d $ROOTFS ($(du -sh "$ROOTFS" | cut -f1))"
truncate -s "$IMG_SIZE" "$IMG.tmp"
mkfs.ext4 -q -F -L kdump-e2e -d "$ROOTFS" "$IMG.tmp" >&2 || die "mkfs.ext4 -d failed"
rm -rf "$ROOTFS"
mv "$OUT/crashkernel.tmp" "$OUT/crashkernel"

# First boot: kdump-tools.service runs `kdump-config load`, which finds no capture
# initramfs and builds it with mkinitramfs in the guest (~85 s under TCG), then loads the
# capture kernel. A real machine does this once, at its first boot with kdump-tools; the
# image keeps the result, so every test boot loads in seconds as a real machine's later
# boots do.
log "first boot: kdump-tools builds its capture initramfs in the guest"
qrc=0
kt_boot "$IMG.tmp" "$OUT/prime-serial.log" 400 || qrc=$?
grep -a '@@E2E' "$OUT/prime-serial.log" | sed 's/^/  guest: /' >&2 || true
((qrc == 0)) || die "first boot: QEMU exit $qrc (serial log $OUT/prime-serial.log)"
grep -aq '@@E2E boot mode=prime kexec_crash_loaded=1' "$OUT/prime-serial.log" ||
    die "first boot: kdump-tools did not load the capture kernel (serial log $OUT/prime-serial.log)"
grep -aq "@@E2E kdump-dir .*initrd.img-$KVER" "$OUT/prime-serial.log" ||
    die "first boot: no /var/lib/kdump/initrd.img-$KVER (serial log $OUT/prime-serial.log)"
mv "$IMG.tmp" "$IMG"
log "image: $IMG"
echo "$OUT"
