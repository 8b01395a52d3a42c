# shellcheck shell=bash
# Sourced by scripts/make-vmcore-arm64.sh in collector mode, after QEMU ended: pull /out off
# the ext4 output disk into $RESULT_DIR and write result.txt (the fields of make-vmcore.sh's
# collector mode, so the same readers work for both architectures). Exits the script.
crc=$(grep -a -m1 '^@@MKV COLLECTOR_DONE' "$SERIAL" | sed 's/.*rc=//' | tr -d '\r')
[[ $crc =~ ^[0-9]+$ ]] || failed "collector did not report completion"
extract_out_disk "$OUT_IMG" "$RESULT_DIR"
maxrss=$(grep -a 'Maximum resident set size' "$RESULT_DIR/time.txt" 2>/dev/null | awk '{print $NF}' || true)
elapsed=$(grep -a 'Elapsed (wall clock)' "$RESULT_DIR/time.txt" 2>/dev/null | awk '{print $NF}' || true)
{
    echo "profile:      $PROFILE ($KVER, ${MEM_MB} MB, crashkernel=$CRASHKERNEL, aarch64 TCG)"
    echo "collector:    $COLLECTOR${COLLECTOR_SYSROOT:+ (libraries from $COLLECTOR_SYSROOT)}"
    echo "command:      $COLLECTOR_CMD"
    echo "exit code:    $crc"
    if ((KEEP_VMCORE)); then
        kept=$(grep -a -m1 '^@@MKV KEPT_VMCORE' "$SERIAL" | awk '{print $3}' | tr -d '\r')
        echo "source core:  $RESULT_DIR/${kept:-vmcore}"
    fi
    echo "capture cpus: $(grep -a -m1 '^@@MKV CAPTURE_CPUS' "$SERIAL" | awk '{print $3}' | tr -d '\r')"
    echo "capture cmdline: $(grep -a -m1 '^@@MKV CAPTURE_CMDLINE' "$SERIAL" | cut -d' ' -f3- | tr -d '\r')"
    echo "max RSS kB:   ${maxrss:-unknown}"
    echo "elapsed:      ${elapsed:-unknown} (inside TCG guest)"
    echo "vmcore size:  $size"
    grep -a -m1 '^@@MKV CAPTURE_MEM' "$SERIAL" | sed 's/^@@MKV CAPTURE_MEM/capture meminfo:/' | tr -d '\r'
    echo "created:      $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$RESULT_DIR/result.txt"
cat "$RESULT_DIR/result.txt" >&2
ls -l "$RESULT_DIR" >&2
rm -rf "$WORK"
((crc == 0)) || { warn "collector exited with $crc (see $RESULT_DIR/collector.log)"; echo "$RESULT_DIR"; exit 1; }
echo "$RESULT_DIR"
