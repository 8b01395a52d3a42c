#!/bin/sh
# /bin/kexec-crash KERNEL INITRD CMDLINE for the arm64 guest of scripts/make-vmcore-arm64.sh.
# Same interface as scripts/guest/kexec-crash.c, so the x86_64 /init (scripts/guest/init.sh)
# runs unchanged; but Debian's arm64 kernels are built without KEXEC_FILE, so this uses
# kexec-tools' kexec_load (`kexec -p`), which builds the capture kernel's device tree itself.
# KEXEC_ARGS (from /etc/mkvmcore.conf) adds options such as --dtb or --reuse-cmdline.
# shellcheck source=/dev/null
. /etc/mkvmcore.conf

# kexec-tools (2.0.25 and 2.0.29) takes the kernel's virtual base from the `_text` line of
# /proc/kallsyms. Debian's 6.1 arm64 kernels list only _stext there; kexec then writes a
# "Kernel text" PT_LOAD with p_vaddr -1 and a size near 2^64 into the elfcorehdr, and the
# capture kernel's /proc/vmcore is unreadable. On arm64 the image starts 64 KiB before
# _stext (the head text; 6.12's kallsyms agrees), so add that line over a copy of the file.
if ! grep -q ' _text$' /proc/kallsyms; then
	stext=$(grep -m1 ' _stext$' /proc/kallsyms | cut -d' ' -f1)
	[ -n "$stext" ] || { echo "kexec-crash: no _stext in /proc/kallsyms" >&2; exit 1; }
	text=$(printf '%016x' $((0x$stext - 0x10000)))
	{ echo "$text T _text"; cat /proc/kallsyms; } >/tmp/kallsyms
	mount --bind /tmp/kallsyms /proc/kallsyms || exit 1
	echo "@@MKV KALLSYMS_TEXT_ADDED _text=$text (_stext=$stext)"
fi
# shellcheck disable=SC2086  # KEXEC_ARGS is a word list
/usr/sbin/kexec -p $KEXEC_ARGS "$1" --initrd="$2" --append="$3"
rc=$?
grep -q ' _text$' /tmp/kallsyms 2>/dev/null && umount /proc/kallsyms
exit $rc
