#!/bin/sh
# /bin/kexec-crash KERNEL INITRD CMDLINE for the arm64 guest of scripts/make-vmcore-arm64.sh.
# Same interface as scripts/guest/kexec-crash.c, so the x86_64 /init (scripts/guest/init.sh)
# runs unchanged; but Debian's arm64 kernels are built without KEXEC_FILE, so this uses
# kexec-tools' kexec_load (`kexec -p`), which builds the capture kernel's device tree itself.
# KEXEC_ARGS (from /etc/mkvmcore.conf) adds options such as --dtb or --reuse-cmdline.
# shellcheck source=/dev/null
. /etc/mkvmcore.conf
# shellcheck disable=SC2086  # KEXEC_ARGS is a word list
exec /usr/sbin/kexec -p $KEXEC_ARGS "$1" --initrd="$2" --append="$3"
