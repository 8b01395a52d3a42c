# shellcheck shell=sh
# First-kernel script (scripts/guest/init.sh MODE=first-kernel) for the "qemu-dump" source of
# scripts/make-vmcore-arm64.sh: the workload is in place; tell the host on the console, which
# then runs QMP dump-guest-memory on this live guest and quits QEMU. qemu_fw_cfg is loaded
# (MODULES), so QEMU's -device vmcoreinfo has the kernel's VMCOREINFO to put in the dump.
[ -e /sys/firmware/qemu_fw_cfg/by_name/etc/vmcoreinfo ] || echo "@@MKV FAIL no etc/vmcoreinfo in fw_cfg" >/dev/console
sync
echo "@@MKV READY_FOR_DUMP" >/dev/console
sleep 100000
