#!/bin/sh
# The guest side of tests/kdump-tools-e2e.sh, run by e2e-guest.service after
# kdump-tools.service. Every line for the host holds "@@E2E " on the serial console (after
# the "[time] e2e-guest[pid]: " prefix that systemd adds there).
#   /etc/e2e-guest.mode = prime: the image's first boot (make-rootfs.sh): kdump-tools has
#       built its capture initramfs and loaded it; report and power off.
#   /etc/e2e-guest.mode = crash: if no dump is in /var/crash yet, report what is loaded and
#       panic (sysrq c); kdump-tools in the capture kernel saves the dump and reboots into
#       this kernel again, where a dump is found: report what kdump-tools logged, power off.
say() { echo "@@E2E $*"; }
loaded=$(cat /sys/kernel/kexec_crash_loaded 2>/dev/null || echo missing)
mode=$(cat /etc/e2e-guest.mode 2>/dev/null || echo missing)
say "boot mode=$mode kexec_crash_loaded=$loaded kernel=$(uname -r)"

case $mode in
    prime)
        # shellcheck disable=SC2012 # a listing for the log, not parsed for names
        ls -l /var/lib/kdump | sed 's/^/@@E2E kdump-dir /'
        say "primed"
        ;;
    crash)
        if ls /var/crash/2*/dump.* >/dev/null 2>&1; then
            say "back after the dump"
            find /var/crash -type f | sed 's/^/@@E2E crash-file /'
            # The capture boot's own journal, when journald kept it (persistent journal).
            journalctl --list-boots --no-pager 2>&1 | sed 's/^/@@E2E boots /'
            journalctl -b -1 --no-pager -o cat -t kdump-tools 2>&1 | sed 's/^/@@E2E journal /'
            say "done"
        else
            makedumpfile -v 2>&1 | head -n1 | sed 's/^/@@E2E makedumpfile-v /'
            dpkg-query -W -f='${Package} ${Version} ${db:Status-Status}\n' makedumpfile-rs makedumpfile 2>&1 |
                sed 's/^/@@E2E dpkg /'
            sed -n 's/^MAKEDUMP_ARGS=/@@E2E config MAKEDUMP_ARGS=/p; s/^KDUMP_CMDLINE_APPEND=/@@E2E config KDUMP_CMDLINE_APPEND=/p' \
                /etc/default/kdump-tools
            sed 's/^/@@E2E kexec_cmd /' /var/crash/kexec_cmd 2>&1
            if [ "$loaded" != 1 ]; then
                say "capture kernel not loaded"
            else
                say "panicking"
                sync
                echo c >/proc/sysrq-trigger
                sleep 60
                say "still alive after sysrq c"
            fi
        fi
        ;;
    *)
        say "unknown mode"
        ;;
esac
systemctl poweroff
