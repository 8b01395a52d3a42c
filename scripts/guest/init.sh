#!/bin/sh
# /init of the initramfs built by scripts/make-vmcore.sh (runs under static busybox).
#
# ONE image serves both kernels and branches on /proc/vmcore (real-vmcore.md, "The flow"):
#   first kernel   : load modules, build a workload with every page class, load the capture
#                    kernel with kexec_file_load, panic via sysrq; or, with
#                    MODE=first-kernel, run /etc/first-kernel.sh on the live kernel
#                    (output disk at /out) and power off; with MODE=first-then-collector,
#                    run it after loading the capture kernel, then panic.
#   capture kernel : load modules, then either copy /proc/vmcore raw to /dev/vdb (MODE=copy)
#                    or run the collector under test against /proc/vmcore (MODE=collector
#                    or first-then-collector).
# Settings come from /etc/mkvmcore.conf, written by the host script.
# Lines starting with "@@MKV " are parsed by the host from the serial log; keep them stable.

export PATH=/bin:/sbin:/usr/bin:/usr/sbin
# Dynamically linked tools (the collector, GNU time) were copied with the libraries ldd
# listed; there is no ld.so.cache in the initramfs, so name the directories explicitly.
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# shellcheck source=/dev/null
. /etc/mkvmcore.conf

say() { echo "@@MKV $*"; }

# PID 1 must never exit (that panics the kernel, and after kexec is armed a panic would
# start the capture kernel with a bogus state). Power off instead; QEMU runs -no-reboot.
halt_vm() {
	sync
	poweroff -f
	sleep 5
	echo o >/proc/sysrq-trigger
	sleep 100000
}
fail() {
	say "FAIL $*"
	halt_vm
}

# Dependency order was computed on the host from each module's modinfo "depends=";
# the wrong order gives "Unknown symbol" (real-vmcore.md).
for m in $MODULES; do
	insmod "/lib/modules/$m.ko" || fail "insmod $m"
done

# The virtio block device appears only some time after insmod returns: poll every 100 ms.
wait_dev() {
	i=0
	while [ ! -b "$1" ]; do
		i=$((i + 1))
		[ $i -gt 300 ] && fail "device $1 did not appear"
		sleep 0.1
	done
}

meminfo() {
	grep -E '^(MemTotal|MemFree|Cached|Shmem|AnonPages):' /proc/meminfo | tr -s ' ' | tr '\n' ' '
	echo
}

# MODE=first-kernel: the host's script, on the live kernel with the workload in place.
# With "keep-mounted" (MODE=first-then-collector) /out is synced but left mounted: the panic
# follows at once, and the capture kernel's mount replays the journal as after any crash.
# (tests/size-estimate.sh: with the unmount between its prediction and the panic, about
# 20 MB of pages changed between kernel data and free in two boots of three; without it,
# the prediction and the capture kernel's dumps agree.)
run_first_kernel_script() {
	mkdir -p /out
	mount -t ext4 /dev/vdb /out || fail "mount output disk"
	# pipefail as in collector mode, so a failing command in a pipe counts; stdin from
	# /dev/null so that nothing waits on the serial console.
	(cd /out && sh -o pipefail /etc/first-kernel.sh) </dev/null >/out/first.log 2>&1
	rc=$?
	say "FIRST_KERNEL_RC $rc"
	say "FIRST_KERNEL_MEM $(meminfo)"
	echo "----- first.log (tail) -----"
	tail -n 40 /out/first.log
	ls -l /out
	sync
	if [ "${1:-}" != keep-mounted ]; then
		umount /out || say "umount failed"
	fi
	say "FIRST_KERNEL_DONE rc=$rc"
}

first_kernel() {
	say "FIRST_KERNEL $(uname -r)"
	wait_dev /dev/vda
	wait_dev /dev/vdb

	# Page cache: read every file of the (read-only) data disk.
	mkdir -p /data
	mount -t ext4 -o ro /dev/vda /data || fail "mount data disk"
	for f in /data/*; do
		[ -f "$f" ] && cat "$f" >/dev/null
	done

	# Shmem: tmpfs files with random, text-like and zero content.
	mkdir -p /shm
	mount -t tmpfs -o size=90% tmpfs /shm || fail "mount tmpfs"
	[ "$SHM_RANDOM_MB" -gt 0 ] && dd if=/dev/urandom of=/shm/random bs=1M count="$SHM_RANDOM_MB" 2>/dev/null
	[ "$SHM_TEXT_MB" -gt 0 ] && seq 1 100000000 | head -c "$((SHM_TEXT_MB * 1048576))" >/shm/text
	[ "$SHM_ZERO_MB" -gt 0 ] && dd if=/dev/zero of=/shm/zero bs=1M count="$SHM_ZERO_MB" 2>/dev/null

	# Anonymous memory: memhog processes (RANDOM:PATTERN:ZERO MB each), kept alive.
	n=0
	for spec in $MEMHOGS; do
		n=$((n + 1))
		IFS=: read -r r p z <<EOF
$spec
EOF
		/bin/memhog "$r" "$p" "$z" "/run-memhog.$n" &
	done
	# Let the workload finish before the panic (real-vmcore.md step 3): wait for markers.
	i=0
	while :; do
		ready=0
		for f in /run-memhog.*; do
			[ -e "$f" ] && ready=$((ready + 1))
		done
		[ "$ready" -ge "$n" ] && break
		i=$((i + 1))
		[ $i -gt 1200 ] && fail "memhog did not finish"
		sleep 0.1
	done
	sync
	sleep "$SETTLE_SECONDS"
	say "WORKLOAD_DONE $(meminfo)"
	if [ "$MODE" = first-kernel ]; then
		run_first_kernel_script
		halt_vm
	fi

	# -s -p equivalent: kexec_file_load with KEXEC_FILE_ON_CRASH.
	/bin/kexec-crash /vmlinuz /initrd.img "$CAPTURE_APPEND" || fail "kexec_file_load"
	[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || fail "kexec_crash_loaded is not 1"
	if [ "$MODE" = first-then-collector ]; then
		# With the capture kernel armed, as on a system where kdump is set up (loading
		# it changes the memory); the script's prediction is then checked against the
		# dump of this same memory.
		run_first_kernel_script keep-mounted
		# The markers above are still in the tty buffer: the panic would lose them.
		sleep 1
	fi
	say "PANIC"
	echo c >/proc/sysrq-trigger
	fail "still alive after sysrq-c"
}

capture_kernel() {
	say "CAPTURE_KERNEL $(uname -r)"
	say "CAPTURE_MEM $(meminfo)"
	say "CAPTURE_CPUS $(grep -c '^processor' /proc/cpuinfo)"
	say "CAPTURE_CMDLINE $(cat /proc/cmdline)"
	wait_dev /dev/vdb
	# stat, not wc -c: wc reads the whole core (real-vmcore.md pitfalls).
	say "VMCORE_SIZE $(stat -c %s /proc/vmcore)"
	case $MODE in
	copy)
		dd if=/proc/vmcore of=/dev/vdb bs=1M conv=fsync 2>/dev/console
		rc=$?
		sync
		say "COPY_DONE rc=$rc"
		;;
	collector | first-then-collector)
		mkdir -p /out
		mount -t ext4 /dev/vdb /out || fail "mount output disk"
		# GNU time -v reports the maximum RSS of the largest waited-for descendant, i.e.
		# the collector even when the command line is a pipe.
		/usr/bin/time -v -o /out/time.txt sh /etc/collector.sh >/out/collector.log 2>&1
		rc=$?
		say "COLLECTOR_RC $rc"
		if [ "$KEEP_VMCORE" = 1 ]; then
			# Fedora's flow leaves the collector's own output as /out/vmcore.
			kept=vmcore
			[ -e /out/vmcore ] && kept=source-vmcore
			dd if=/proc/vmcore of=/out/$kept bs=1M 2>/dev/console ||
				say "FAIL keeping /proc/vmcore"
			say "KEPT_VMCORE $kept"
		fi
		echo "----- collector.log (tail) -----"
		tail -n 40 /out/collector.log
		echo "----- time -v -----"
		cat /out/time.txt
		ls -l /out
		sync
		umount /out || say "umount failed"
		say "COLLECTOR_DONE rc=$rc"
		;;
	*)
		fail "unknown MODE=$MODE"
		;;
	esac
	halt_vm
}

if [ -e /proc/vmcore ]; then
	capture_kernel
else
	first_kernel
fi
