# shellcheck shell=bash
# Helpers shared by make-rootfs.sh and tests/kdump-tools-e2e.sh. Source after
# scripts/lib.sh.

KT_DIR=$CACHE/kdump-tools
KT_HELPERS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Guest size: the cloud-1g profile of scripts/make-vmcore.sh.
KT_MEM_MB=1024
KT_SMP=2

# kt_install_driver ROOT MODE: the test driver (e2e-guest.sh) as a service of the system
# mounted at ROOT, enabled, in MODE (prime | crash).
kt_install_driver() {
    local root=$1 mode=$2
    install -D -m 0755 "$KT_HELPERS/e2e-guest.sh" "$root/usr/local/sbin/e2e-guest"
    install -D -m 0644 "$KT_HELPERS/e2e-guest.service" "$root/etc/systemd/system/e2e-guest.service"
    mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
    ln -sf /etc/systemd/system/e2e-guest.service "$root/etc/systemd/system/multi-user.target.wants/e2e-guest.service"
    echo "$mode" >"$root/etc/e2e-guest.mode"
}

# kt_boot IMG SERIAL TIMEOUT [CRASHKERNEL]: boot the image under QEMU (TCG, as
# make-vmcore.sh: KVM is not available nested here) until the guest powers off; the kernel
# command line is a Debian one plus CRASHKERNEL, by default the crashkernel= that
# kdump-tools puts into GRUB's configuration ($KT_DIR/crashkernel). No -no-reboot:
# kdump-tools reboots after saving the dump, and the guest must come back. Returns QEMU's
# status (124 on timeout).
kt_boot() {
    local img=$1 serial=$2 timeout=$3 crashkernel=${4:-$(cat "$KT_DIR/crashkernel")}
    : >"$serial"
    timeout "$timeout" qemu-system-x86_64 -accel tcg -smp "$KT_SMP" -m "$KT_MEM_MB" \
        -nodefaults -display none -serial "file:$serial" \
        -kernel "$KT_DIR/vmlinuz" -initrd "$KT_DIR/initrd.img" \
        -append "root=/dev/vda ro console=ttyS0 $crashkernel" \
        -drive "file=$img,if=virtio,format=raw" </dev/null >&2
}

# kt_mount IMG DIR: loop-mount the image (root), with /proc, /dev and /dev/pts for apt
# and dpkg in a chroot; kt_umount DIR undoes it.
kt_mount() {
    local img=$1 dir=$2
    mkdir -p "$dir" || return 1
    mount -o loop "$img" "$dir" || return 1
    if ! { mount -t proc proc "$dir/proc" && mount --bind /dev "$dir/dev" &&
           mount --bind /dev/pts "$dir/dev/pts"; }; then
        kt_umount "$dir"
        return 1
    fi
}
kt_umount() {
    local dir=$1 sub rc=0
    for sub in dev/pts dev proc; do
        if mountpoint -q "$dir/$sub"; then umount "$dir/$sub" || rc=1; fi
    done
    umount "$dir" || rc=1
    return "$rc"
}
