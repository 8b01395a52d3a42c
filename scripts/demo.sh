#!/usr/bin/env bash
# The main job on a real vmcore, from nothing: install what is needed, make a real
# /proc/vmcore (QEMU + a Debian kernel that really panics, captured by a real kdump
# kernel), build our makedumpfile, dump the vmcore with it and with Debian's makedumpfile
# 1.7.2, and check our dump page by page through libkdumpfile.
#
#   scripts/demo.sh [makedumpfile options]      default: -l -d 31 --num-threads 2
#
# The dump is left in $CACHE/demo/ (outside the checkout).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib.sh"
[[ $# -gt 0 ]] && OPTS=("$@") || OPTS=(-l -d 31 --num-threads 2)

"$ROOT/scripts/install-deps.sh"
VMCORE=$("$ROOT/scripts/make-vmcore.sh" --profile cloud-1g | tail -n 1)
need_cmd cargo "install Rust (rustup)"
(cd "$ROOT" && cargo build --release -q -p makedumpfile-cli)
BIN=$ROOT/target/release/makedumpfile
OUT=$CACHE/demo
mkdir -p "$OUT"
rm -f "$OUT/dump.ours" "$OUT/dump.makedumpfile"

log "vmcore: $VMCORE ($(stat -c %s "$VMCORE") bytes)"
log "ours:   makedumpfile ${OPTS[*]} vmcore dump.ours"
/usr/bin/time -f "ours:         %e s wall, %M KiB peak RSS" "$BIN" "${OPTS[@]}" "$VMCORE" "$OUT/dump.ours"
# Debian's makedumpfile has no snappy/zstd and its threads are slow: the reference uses the
# same level, lzo, serial.
REF_OPTS=()
for o in "${OPTS[@]}"; do case $o in -p|-z) REF_OPTS+=(-l) ;; *) REF_OPTS+=("$o") ;; esac; done
/usr/bin/time -f "makedumpfile: %e s wall, %M KiB peak RSS" makedumpfile "${REF_OPTS[@]}" "$VMCORE" "$OUT/dump.makedumpfile" >/dev/null 2>"$OUT/ref.log" || { cat "$OUT/ref.log"; exit 1; }
tail -n 1 "$OUT/ref.log"
ls -l "$OUT/dump.ours" "$OUT/dump.makedumpfile"
if cmp -s "$OUT/dump.ours" "$OUT/dump.makedumpfile"; then
    log "the two dumps are byte-identical"
else
    log "the dumps differ (expected only when the codec differs from the reference's)"
fi
"$DEBIAN_PYTHON" "$ROOT/scripts/kdump-pages-check.py" "$VMCORE" "$OUT/dump.ours" "$OUT/dump.makedumpfile"
